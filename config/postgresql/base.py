"""Django's PostgreSQL backend, told that a statement takes at most 65,535 parameters.

With server-side parameter binding (see settings) PostgreSQL's wire-protocol limit applies.
Django splits bulk inserts and cascade deletions into batches only for backends that declare
such a limit (as Oracle's does); without it, deleting a study with more than 65,535 trials or
a bulk insert of that many values fails.
"""

from django.db.backends.postgresql import base, features, operations


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = 2**16 - 1


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        if fields:
            return self.connection.features.max_query_params // len(fields)
        return len(objs)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations
