from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ml", "0003_initial")]

    operations = [
        migrations.AddConstraint(
            model_name="trainingjob",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["queued", "running"])),
                fields=("subject",),
                name="one_active_training_per_subject",
            ),
        ),
    ]
