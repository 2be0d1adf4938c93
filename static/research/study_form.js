// The study form: the slug follows the title (as Django's slugify makes it) until the
// researcher edits the slug; an existing study's slug is left alone. The server makes the
// same slug from the title when the field is left empty.
const title = document.getElementById("id_title");
const slug = document.getElementById("id_slug");

function slugify(text) {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^\w\s-]/g, "")
    .trim()
    .replace(/[-\s]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, 40);
}

if (title && slug) {
  let follows = slug.value === "" || slug.value === slugify(title.value);
  if (follows) slug.value = slugify(title.value); // a title typed before this script ran
  title.addEventListener("input", () => {
    if (follows) slug.value = slugify(title.value);
  });
  slug.addEventListener("input", () => {
    follows = slug.value === "";
  });
}
