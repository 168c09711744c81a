"""The launch style pack: eight portrait styles, editable by staff afterwards.

Templates say {subject} where the adapter's "<trigger token> <class word>" goes, and may use
{backdrop}, {outfit} and {lighting}, filled from the style's own fields (so staff can change a
backdrop without touching the prompt). FLUX.1-dev takes no negative prompt; its guidance is the
distilled guidance (3-4), SDXL's the classifier-free scale (5-7).
"""

from django.db import migrations

NEGATIVE = (
    "cartoon, illustration, painting, drawing, anime, 3d render, cgi, deformed face, "
    "asymmetric eyes, extra fingers, extra limbs, blurry, out of focus, low quality, jpeg "
    "artifacts, watermark, text, logo, signature, oversaturated, plastic skin"
)
# Under CLIP's 77 tokens with every style's fields filled in (SDXL truncates the rest), the
# person and the style first so that any truncation only loses the generic tail.
BASE = (
    "professional headshot photograph of {subject}, wearing {outfit}, {backdrop}, {lighting}, "
    "head and shoulders, natural skin texture, sharp focus, 85mm lens"
)

STYLES = [
    {
        "slug": "studio-grey",
        "name": "Studio grey",
        "description": "The classic: neutral grey seamless backdrop, soft studio light.",
        "prompt_template": BASE,
        "backdrop": "plain mid-grey seamless studio backdrop",
        "outfit": "a dark blazer over a plain shirt",
        "lighting": "soft key light with a large softbox and gentle fill",
        "parameters": {"sdxl": {"guidance": 6.0}, "flux": {"guidance": 3.5}},
    },
    {
        "slug": "corporate-office",
        "name": "Corporate office",
        "description": "Business attire with a softly blurred modern office behind you.",
        "prompt_template": BASE + ", shallow depth of field",
        "backdrop": "blurred modern glass office interior in the background",
        "outfit": "a tailored navy suit",
        "lighting": "bright diffused window light",
        "parameters": {"sdxl": {"guidance": 6.0}, "flux": {"guidance": 3.5}},
    },
    {
        "slug": "outdoor-natural-light",
        "name": "Outdoor, natural light",
        "description": "Relaxed and approachable: greenery and golden-hour light.",
        "prompt_template": BASE + ", candid and relaxed",
        "backdrop": "out-of-focus park greenery with warm bokeh",
        "outfit": "a smart casual open-collar shirt",
        "lighting": "warm natural golden-hour sunlight from the side",
        "parameters": {"sdxl": {"guidance": 5.5}, "flux": {"guidance": 3.0}},
    },
    {
        "slug": "linkedin-bright",
        "name": "LinkedIn bright",
        "description": "Clean, bright and friendly, made for profile pictures.",
        "prompt_template": BASE + ", friendly confident smile",
        "backdrop": "clean bright white backdrop",
        "outfit": "a light blue button-down shirt",
        "lighting": "high-key even lighting with no harsh shadows",
        "parameters": {"sdxl": {"guidance": 6.0}, "flux": {"guidance": 3.5}},
    },
    {
        "slug": "casual-cafe",
        "name": "Casual café",
        "description": "Warm and informal, a coffee-shop corner behind you.",
        "prompt_template": BASE + ", warm and informal mood",
        "backdrop": "cosy café interior softly blurred in the background",
        "outfit": "a knit sweater",
        "lighting": "warm ambient indoor light with soft window light",
        "parameters": {"sdxl": {"guidance": 5.5}, "flux": {"guidance": 3.0}},
    },
    {
        "slug": "black-and-white",
        "name": "Black and white",
        "description": "Timeless monochrome portrait with rich contrast.",
        "prompt_template": "black and white photograph, " + BASE + ", fine film grain",
        "backdrop": "dark grey textured backdrop",
        "outfit": "a dark crew-neck top",
        "lighting": "classic Rembrandt lighting",
        "parameters": {"sdxl": {"guidance": 6.5}, "flux": {"guidance": 3.5}},
    },
    {
        "slug": "low-key-dramatic",
        "name": "Low-key dramatic",
        "description": "Moody and editorial: deep shadows, one strong light.",
        "prompt_template": BASE + ", editorial portrait, moody",
        "backdrop": "near-black backdrop",
        "outfit": "a black turtleneck",
        "lighting": "low-key single hard side light with deep shadows and a subtle rim light",
        "parameters": {"sdxl": {"guidance": 7.0}, "flux": {"guidance": 4.0}},
    },
    {
        "slug": "brand-colour-backdrop",
        "name": "Brand colour backdrop",
        "description": "A bold solid-colour backdrop for team pages (staff can set the colour).",
        "prompt_template": BASE + ", modern corporate team photo style",
        "backdrop": "solid deep teal colour backdrop",
        "outfit": "a smart dark jacket",
        "lighting": "even soft front light with a gentle background glow",
        "parameters": {"sdxl": {"guidance": 6.0}, "flux": {"guidance": 3.5}},
    },
]


def seed(apps, schema_editor):
    Style = apps.get_model("ml", "Style")
    for order, style in enumerate(STYLES, start=1):
        Style.objects.update_or_create(
            slug=style["slug"],
            defaults={
                **{k: v for k, v in style.items() if k != "slug"},
                "negative_prompt": NEGATIVE,
                "active": True,
                "sort_order": order * 10,
            },
        )


def unseed(apps, schema_editor):
    Style = apps.get_model("ml", "Style")
    Style.objects.filter(slug__in=[s["slug"] for s in STYLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("ml", "0004_one_active_training_per_subject")]

    operations = [migrations.RunPython(seed, unseed)]
