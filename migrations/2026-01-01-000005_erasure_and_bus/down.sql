DROP TABLE bus_payloads;
DROP TABLE erasure_receipts;
