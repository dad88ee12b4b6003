-- Where the active replica (the holder of the election's advisory lock) is reached, written
-- by it when it takes the lock; standbys name it when they refuse an operator write.
CREATE TABLE active_replica (
    only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    url text NOT NULL,
    since timestamptz NOT NULL
);
