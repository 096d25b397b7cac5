-- The SSH port handed out last. New containers take the next free port after
-- it (wrapping at the end of the range), so a freed port, and the host key that
-- clients remember for it, passes to another container as late as possible.
-- One row at most; moved in the same IMMEDIATE transaction that reserves.
CREATE TABLE ssh_port_cursor (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  last_port  INTEGER NOT NULL
);
