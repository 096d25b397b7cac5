-- A user is blocked before dcm-userdel removes anything: from then on no door
-- runs their commands or lets them log in, so they cannot create containers
-- (or change storage through a new one) while their things are being removed.
ALTER TABLE users ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
