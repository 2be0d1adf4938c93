"""HTTP views: participant pages, participant JSON API, researcher pages."""
