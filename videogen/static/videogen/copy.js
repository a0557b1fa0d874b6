// "Copy" buttons: <button data-vg-copy="ID"> copies the text of the element with that id.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-vg-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.vgCopy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  } catch (error) {
    // No clipboard (an insecure origin): select the text so the user can copy it.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
});
