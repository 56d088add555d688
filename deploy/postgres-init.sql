-- One database per service (placement is created by POSTGRES_DB).
CREATE DATABASE progress OWNER lms;
CREATE DATABASE certification OWNER lms;
