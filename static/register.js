// The register page: "mark everyone not yet marked present" sets the first code (P) on
// every pupil still unmarked; the page's own script, as the content policy allows.
document.querySelector('[data-mark-all]')?.addEventListener('click', (e) => {
  const code = e.currentTarget.dataset.markAll;
  document.querySelectorAll('#register .att-codes').forEach((set) => {
    if (!set.querySelector('input:checked')) {
      const input = set.querySelector(`input[value="${code}"]`);
      if (input) input.checked = true;
    }
  });
});
