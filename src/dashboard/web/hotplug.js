// The Hotplug form. Its fields come from device-list-properties (the device's schema on the
// server), plus device_add's own `id`. A server error that names a property is shown under that
// property's field; any other error under the form.

const INTEGER_TYPES = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'size']);

/** The field a QEMU error text is about, if it names one. */
export function fieldOfError(desc) {
  let m = /^Property '[^'.]+\.([^']+)'/.exec(desc) ?? /^Property [^ .]+\.([^ ]+) doesn't/.exec(desc);
  if (m) return m[1];
  m = /^Parameter '([^']+)'/.exec(desc) ?? /^Invalid parameter type for '([^']+)'/.exec(desc);
  if (m) return m[1];
  if (/^Duplicate device ID/.test(desc)) return 'id';
  if (/^frontend-id /.test(desc)) return 'frontend-id';
  if (/^vif \d+ of domain \d+ already exists/.test(desc)) return 'idx';
  return null;
}

export class HotplugForm {
  constructor(qmp, driver, onAdded) {
    this.qmp = qmp;
    this.driver = driver;
    this.onAdded = onAdded;
    this.dialog = document.getElementById('hotplug-dialog');
    this.form = document.getElementById('hotplug-form');
    this.fieldsBox = document.getElementById('hotplug-fields');
    this.formError = document.getElementById('hotplug-error');
    this.fields = [];
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit();
    });
    document.getElementById('hotplug-cancel').addEventListener('click', () => this.dialog.close());
  }

  /** Builds the fields from device-list-properties. */
  async load() {
    const props = await this.qmp.execute('device-list-properties', { typename: this.driver });
    this.fields = [{ name: 'id', type: 'str', description: 'Device ID (a letter, then letters, digits, - . _); optional' }, ...props];
    this.fieldsBox.replaceChildren(...this.fields.map((p) => this.field(p)));
  }

  field(p) {
    const box = document.createElement('div');
    box.className = 'field';
    const input = document.createElement('input');
    input.id = `hotplug-${p.name}`;
    input.name = p.name;
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.inputMode = INTEGER_TYPES.has(p.type) ? 'numeric' : 'text';
    input.placeholder = p['default-value'] !== undefined ? `default ${p['default-value']}` : (p.name === 'mac' ? 'random 00:16:3e:xx:xx:xx' : '');
    const label = document.createElement('label');
    label.htmlFor = input.id;
    label.textContent = `${p.name} `;
    const type = document.createElement('span');
    type.className = 'muted';
    type.textContent = `(${p.type})`;
    label.append(type);
    const help = document.createElement('span');
    help.className = 'help';
    help.id = `hotplug-${p.name}-help`;
    help.textContent = p.description ?? '';
    const error = document.createElement('p');
    error.className = 'field-error';
    error.id = `hotplug-${p.name}-error`;
    error.setAttribute('role', 'alert');
    input.setAttribute('aria-describedby', `${help.id} ${error.id}`);
    box.append(label, input, help, error);
    return box;
  }

  open() {
    this.clearErrors();
    this.form.reset();
    this.dialog.showModal();
    document.getElementById('hotplug-id')?.focus();
  }

  clearErrors() {
    this.formError.textContent = '';
    for (const p of this.fields) {
      document.getElementById(`hotplug-${p.name}-error`).textContent = '';
      document.getElementById(`hotplug-${p.name}`).removeAttribute('aria-invalid');
    }
  }

  args() {
    const args = { driver: this.driver };
    for (const p of this.fields) {
      const text = document.getElementById(`hotplug-${p.name}`).value.trim();
      if (text === '') continue;
      // Integers go as numbers; anything else as typed, so the server says what is wrong with it.
      args[p.name] = INTEGER_TYPES.has(p.type) && /^-?\d+$/.test(text) ? Number(text) : text;
    }
    return args;
  }

  async submit() {
    this.clearErrors();
    const args = this.args();
    const button = document.getElementById('hotplug-submit');
    button.disabled = true;
    try {
      await this.qmp.execute('device_add', args);
      this.dialog.close();
      this.onAdded(args);
    } catch (err) {
      this.showError(err.message);
    } finally {
      button.disabled = false;
    }
  }

  showError(desc) {
    const name = fieldOfError(desc);
    const input = name !== null ? document.getElementById(`hotplug-${name}`) : null;
    if (!input) {
      this.formError.textContent = desc;
      return;
    }
    document.getElementById(`hotplug-${name}-error`).textContent = desc;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}
