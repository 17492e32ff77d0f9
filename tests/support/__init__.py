"""What the tests share, whatever layer they test: builders of worlds and commands, API
clients, a served `hour-ledger`, a follower process, a proxy that cuts the database off. Test
modules import from here, never from one another."""
