// The reference page of /openapi.json: swagger-ui (vendored, see vendor/README.md) pointed at the
// document beside this page, so it works offline and under any mount prefix.
"use strict";
(function () {
  var spec = new URL("../openapi.json", document.currentScript.src).href;
  window.ui = SwaggerUIBundle({
    url: spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
