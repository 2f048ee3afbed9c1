"""Wire-level fakes of the outside services, served on loopback for the tests."""
