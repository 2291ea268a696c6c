-- One database per service (database-per-service); runs once, on an empty data directory.
CREATE DATABASE ordermesh_user;
CREATE DATABASE ordermesh_order;
CREATE DATABASE ordermesh_payment;
CREATE DATABASE ordermesh_notification;
