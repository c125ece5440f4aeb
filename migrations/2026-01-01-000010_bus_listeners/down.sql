DROP TABLE bus_listeners;
