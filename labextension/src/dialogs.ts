import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './request';
import { IGatewayInfo, INewClusterOptions } from './tokens';

function field(form: HTMLElement, name: string, label: string, input: HTMLInputElement): HTMLInputElement {
  const row = document.createElement('label');
  row.className = 'ck-Form-row';
  const text = document.createElement('span');
  text.className = 'ck-Form-label';
  text.textContent = label;
  input.name = name;
  input.classList.add('jp-mod-styled', 'ck-Form-input');
  row.appendChild(text);
  row.appendChild(input);
  form.appendChild(row);
  return input;
}

function input(type: string, placeholder = '', value = ''): HTMLInputElement {
  const node = document.createElement('input');
  node.type = type;
  node.placeholder = placeholder;
  node.value = value;
  if (type === 'number') {
    node.min = '0';
    node.step = '1';
  }
  return node;
}

/** The small form behind "New cluster". Empty fields mean "the default". */
class NewClusterForm extends Widget implements Dialog.IBodyWidget<INewClusterOptions> {
  constructor(gateway: string | null) {
    super();
    this.addClass('ck-Form');
    if (gateway) {
      // A Dask Gateway is configured: the cluster may start there instead of on this machine.
      const row = document.createElement('label');
      row.className = 'ck-Form-row';
      const text = document.createElement('span');
      text.className = 'ck-Form-label';
      text.textContent = 'Where';
      this._where = document.createElement('select');
      this._where.name = 'where';
      this._where.className = 'jp-mod-styled ck-Form-input';
      for (const [value, label] of [
        ['here', 'This machine'],
        ['gateway', `Dask Gateway (${gateway})`]
      ]) {
        const option = document.createElement('option');
        option.value = value;
        option.textContent = label;
        this._where.appendChild(option);
      }
      row.appendChild(text);
      row.appendChild(this._where);
      this.node.appendChild(row);
    }
    this._name = field(this.node, 'name', 'Name', input('text', 'automatic'));
    this._workers = field(this.node, 'workers', 'Workers', input('number', 'sized for this machine'));
    this._threads = field(this.node, 'threads', 'Threads per worker', input('number', '1'));
    this._memory = field(this.node, 'memory', 'Memory per worker', input('text', 'auto, or e.g. 2GiB'));
    this._hosts = field(this.node, 'ssh_hosts', 'SSH hosts', input('text', 'none (local); or host1 host2 ...'));
    const where = this._where;
    if (where) {
      // A gateway names and sizes its clusters itself: only the worker count applies there.
      where.addEventListener('change', () => {
        for (const other of [this._name, this._threads, this._memory, this._hosts]) {
          other.disabled = where.value === 'gateway';
        }
      });
    }
  }

  getValue(): INewClusterOptions {
    if (this._where?.value === 'gateway') {
      const onGateway: INewClusterOptions = { gateway: true };
      if (this._workers.value.trim()) {
        onGateway.workers = Number(this._workers.value);
      }
      return onGateway;
    }
    const options: INewClusterOptions = {};
    const name = this._name.value.trim();
    if (name) {
      options.name = name;
    }
    if (this._workers.value.trim()) {
      options.workers = Number(this._workers.value);
    }
    if (this._threads.value.trim()) {
      options.threads = Number(this._threads.value);
    }
    const memory = this._memory.value.trim();
    if (memory) {
      options.memory = memory;
    }
    const hosts = this._hosts.value.split(/[\s,]+/).filter(Boolean);
    if (hosts.length) {
      options.ssh_hosts = hosts;
    }
    return options;
  }

  private _name: HTMLInputElement;
  private _workers: HTMLInputElement;
  private _threads: HTMLInputElement;
  private _memory: HTMLInputElement;
  private _hosts: HTMLInputElement;
  private _where: HTMLSelectElement | null = null;
}

/** Ask for a new cluster's options; null when cancelled. */
export async function askNewCluster(): Promise<INewClusterOptions | null> {
  let gateway: string | null = null;
  try {
    gateway = (await requestAPI<IGatewayInfo>('api/gateway')).address;
  } catch {
    gateway = null; // an older server, or no permission: offer this machine only
  }
  const result = await showDialog({
    title: 'New cluster',
    body: new NewClusterForm(gateway),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Start' })]
  });
  return result.button.accept ? result.value : null;
}

class ScaleForm extends Widget implements Dialog.IBodyWidget<number> {
  constructor(current: number) {
    super();
    this.addClass('ck-Form');
    this._workers = field(this.node, 'workers', 'Workers', input('number', '', String(current)));
  }

  getValue(): number {
    return Number(this._workers.value);
  }

  private _workers: HTMLInputElement;
}

/** Ask for a worker count; null when cancelled. */
export async function askWorkers(name: string, current: number): Promise<number | null> {
  const result = await showDialog({
    title: `Scale ${name}`,
    body: new ScaleForm(current),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Scale' })]
  });
  return result.button.accept && result.value !== null ? result.value : null;
}

/** Confirm stopping a cluster. */
export async function confirmStop(name: string, owner: string): Promise<boolean> {
  const body = document.createElement('p');
  body.textContent = `Stop ${name}? Its owner (${owner}) will shut it down; work on it is lost.`;
  const result = await showDialog({
    title: 'Stop cluster',
    body: new Widget({ node: body }),
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
  });
  return result.button.accept;
}
