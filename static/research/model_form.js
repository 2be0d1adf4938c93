// Model registration: a chosen weights file is sent to the server at once, which keeps it for
// this researcher and says what it holds; the form is filled in from that, and submits the
// kept file's token instead of uploading the file again. Without this script the file is
// uploaded with the form (and its format detected there).
const form = document.getElementById("model-form");
const input = document.getElementById("id_weights");
const status = document.getElementById("weights-detected");
const staged = form.querySelector("[name=staged_weights]");

function show(message, isError) {
  status.textContent = message;
  status.classList.toggle("error", isError);
  status.hidden = false;
}

function fill(fields) {
  for (const [name, value] of Object.entries(fields)) {
    const element = form.elements.namedItem(name);
    if (element) element.value = String(value);
  }
}

async function inspect(file) {
  const body = new FormData();
  body.append("csrfmiddlewaretoken", form.elements.namedItem("csrfmiddlewaretoken").value);
  body.append("weights", file);
  show(`Reading ${file.name} …`, false);
  let answer;
  try {
    const response = await fetch(form.dataset.inspectUrl, { method: "POST", body });
    answer = await response.json();
  } catch {
    show("The server could not be reached; the file will be sent with the form.", true);
    return;
  }
  input.value = "";
  if (answer.error) {
    staged.value = "";
    show(answer.error.message, true);
    return;
  }
  staged.value = answer.token;
  fill(answer.fields);
  show(`${answer.summary} Keeping ${answer.file_name}; the form below is filled in from it.`, false);
}

input.addEventListener("change", () => {
  if (input.files.length === 1) inspect(input.files[0]);
});
