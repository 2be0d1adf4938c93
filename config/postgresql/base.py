"""Django's PostgreSQL backend with two changes.

* A statement takes at most 65,535 parameters. With server-side parameter binding (see
  settings) PostgreSQL's wire-protocol limit applies. Django splits bulk inserts and cascade
  deletions into batches only for backends that declare such a limit (as Oracle's does);
  without it, deleting a study with more than 65,535 trials or a bulk insert of that many
  values fails.
* Its connections are ``studyapp.database_deadline.WatchedConnection``: a round trip to a
  frozen server fails after ``FACESIM_DATABASE_WAIT_LIMIT_S`` instead of waiting for it.
"""

import psycopg
from django.db.backends.postgresql import base, features, operations

from studyapp.database_deadline import WatchedConnection


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = 2**16 - 1


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        if fields:
            return self.connection.features.max_query_params // len(fields)
        return len(objs)


class _Psycopg:
    """The psycopg module as the backend sees it (``DatabaseWrapper.Database``), except that
    ``connect`` opens a ``WatchedConnection``."""

    connect = WatchedConnection.connect

    def __getattr__(self, name: str):
        return getattr(psycopg, name)


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _Psycopg()
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations
