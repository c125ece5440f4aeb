DROP TABLE key_secrets;
