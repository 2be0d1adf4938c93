# Adaptive selection by answer entropy under one fitted embedding (was: information gain
# under a bootstrap ensemble).  Older states keep their ensemble in ``embedding``.

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("studyapp", "0025_facemodel_pretraining_dlib"),
    ]

    operations = [
        migrations.RenameField("adaptivestate", "embeddings", "embedding"),
        migrations.RenameField("adaptivestate", "mean_information_gain", "mean_entropy"),
        migrations.AlterField(
            model_name="adaptivestate",
            name="mean_entropy",
            field=models.FloatField(
                help_text="Mean entropy of the chosen triplets' answers under the state, in nats."
            ),
        ),
        migrations.AlterField(
            model_name="adaptivestate",
            name="seed",
            field=models.BigIntegerField(help_text="Seed of the fit and the selection."),
        ),
        migrations.AlterField(
            model_name="adaptiveplanchoice",
            name="selection",
            field=models.CharField(
                choices=[
                    ("adaptive", "Adaptive (most uncertain answers)"),
                    ("balanced_no_state", "Balanced: no model state yet (before the first batch)"),
                    ("balanced_pool_used", "Balanced: the newest state's pool was used up"),
                    ("balanced_stale", "Balanced: the newest state has another stimulus list"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="study",
            name="adaptive_batch",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Adaptive triplet selection: after every this many completed "
                "participants a cpu job fits an embedding to all answers and chooses the next "
                "participants' triplets where its answers are least certain (balanced before "
                "the first fit); 0: off.",
                validators=[django.core.validators.MaxValueValidator(1000)],
            ),
        ),
    ]
