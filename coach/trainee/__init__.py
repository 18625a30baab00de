"""The trainee page: learning curve, fatigue profiles, patterns, mastery and the next practice date."""
