import { ILabShell, ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { DashboardPane } from './dashboard';
import { askNewCluster, askWorkers, confirmStop } from './dialogs';
import { requestAPI } from './request';
import { ClusterSidebar, ownerLabel } from './sidebar';
import { CommandIDs, IClusterInfo, IClusterkitSettings, IIndividualPlots, IScaleRequest, PLUGIN_ID } from './tokens';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">
<g class="jp-icon3" fill="#616161"><circle cx="8" cy="3" r="2"/><circle cx="3" cy="12" r="2"/><circle cx="13" cy="12" r="2"/>
<path d="M7.5 4.5h1v3l3.6 3.1-.6.8L8 8.5l-3.5 2.9-.6-.8 3.6-3.1z"/></g></svg>`;

const clusterIcon = new LabIcon({ name: 'clusterkit:cluster', svgstr: ICON_SVG });

const DEFAULTS: IClusterkitSettings = {
  pollInterval: 2,
  defaultPanes: ['individual-task-stream', 'individual-progress', 'individual-workers-memory'],
  paneMode: 'split-right'
};

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A sidebar listing every registered Dask cluster: dashboards, scale, stop, use in a notebook.',
  autoStart: true,
  // No required ILabShell: Notebook 7 has none, and its shell has a left panel too.
  optional: [ILabShell, ICommandPalette, ILayoutRestorer, INotebookTracker, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands } = app;
    const shell: JupyterFrontEnd.IShell = labShell ?? app.shell;
    const settings: IClusterkitSettings = { ...DEFAULTS };
    const sidebar = new ClusterSidebar(commands, settings.pollInterval);
    sidebar.title.icon = clusterIcon;
    shell.add(sidebar, 'left', { rank: 250 });
    if (restorer) {
      restorer.add(sidebar, 'clusterkit-sidebar');
    }

    const panes = new WidgetTracker<DashboardPane>({ namespace: 'clusterkit-dashboard' });
    if (restorer) {
      void restorer.restore(panes, {
        command: CommandIDs.openPane,
        args: pane => ({ id: pane.clusterId, path: pane.path, label: pane.label, restoring: true }),
        name: pane => `${pane.clusterId}:${pane.path}`
      });
    }

    // A stopped cluster's dashboard panes have nothing left to show: close them.
    sidebar.changed.connect((_, clusters) => {
      const running = new Set(clusters.map(cluster => cluster.id));
      panes.forEach(pane => {
        if (!running.has(pane.clusterId)) {
          pane.dispose();
        }
      });
    });

    /** The cluster a command acts on: the one named in args, else the only/first one. */
    async function target(args: { id?: unknown }): Promise<IClusterInfo> {
      if (typeof args.id === 'string' && args.id) {
        return requestAPI<IClusterInfo>(`api/clusters/${encodeURIComponent(args.id)}`);
      }
      const clusters = await requestAPI<IClusterInfo[]>('api/clusters');
      if (!clusters.length) {
        throw new Error('There is no running cluster.');
      }
      return clusters[clusters.length - 1];
    }

    async function openPane(cluster: { id: string; name?: string }, path: string, label: string, ref?: string) {
      const id = DashboardPane.widgetId(cluster.id, path);
      const existing = panes.find(pane => pane.id === id);
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const pane = new DashboardPane({ clusterId: cluster.id, clusterName: cluster.name, path, label });
      await panes.add(pane);
      shell.add(pane, 'main', ref ? { mode: settings.paneMode, ref } : { mode: 'tab-after' });
      shell.activateById(pane.id);
      return pane;
    }

    commands.addCommand(CommandIDs.showSidebar, {
      label: 'Show Clusters Sidebar',
      execute: () => shell.activateById(sidebar.id)
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Cluster List',
      execute: () => sidebar.refresh()
    });

    commands.addCommand(CommandIDs.newCluster, {
      label: 'New Cluster…',
      caption: 'Start a detached Dask cluster owned by a clusterkit daemon',
      execute: async () => {
        const options = await askNewCluster();
        if (!options) {
          return;
        }
        try {
          const cluster = await requestAPI<IClusterInfo>('api/clusters', {
            method: 'POST',
            body: JSON.stringify(options)
          });
          await sidebar.refresh();
          return cluster;
        } catch (error) {
          await showErrorMessage('Could not start the cluster', message(error));
        }
      }
    });

    commands.addCommand(CommandIDs.scale, {
      label: 'Scale Cluster…',
      execute: async args => {
        try {
          const cluster = await target(args);
          const workers = await askWorkers(cluster.name, cluster.workers);
          if (workers === null) {
            return;
          }
          const body: IScaleRequest = { workers };
          await requestAPI<IClusterInfo>(`api/clusters/${encodeURIComponent(cluster.id)}`, {
            method: 'PATCH',
            body: JSON.stringify(body)
          });
          await sidebar.refresh();
        } catch (error) {
          await showErrorMessage('Could not scale the cluster', message(error));
        }
      }
    });

    commands.addCommand(CommandIDs.stop, {
      label: 'Stop Cluster…',
      execute: async args => {
        try {
          const cluster = await target(args);
          if (!(await confirmStop(cluster.name, ownerLabel(cluster)))) {
            return;
          }
          await requestAPI<IClusterInfo>(`api/clusters/${encodeURIComponent(cluster.id)}`, { method: 'DELETE' });
          await sidebar.refresh();
        } catch (error) {
          await showErrorMessage('Could not stop the cluster', message(error));
        }
      }
    });

    commands.addCommand(CommandIDs.openPane, {
      label: args => (typeof args.label === 'string' ? `Open Dashboard Plot ${args.label}` : 'Open Dashboard Plot'),
      execute: async args => {
        const id = String(args.id ?? '');
        const path = String(args.path ?? '/status');
        const label = String(args.label ?? path);
        let cluster: { id: string; name?: string } = { id };
        try {
          cluster = await requestAPI<IClusterInfo>(`api/clusters/${encodeURIComponent(id)}`);
        } catch (error) {
          if (args.restoring) {
            return; // the cluster of a restored pane is gone: do not bring the pane back
          }
        }
        return openPane(cluster, path, label);
      }
    });

    commands.addCommand(CommandIDs.openDashboard, {
      label: 'Open Cluster Dashboard',
      caption: 'Open the default dashboard panes (settings: defaultPanes) of a cluster',
      execute: async args => {
        try {
          const cluster = await target(args);
          if (cluster.kind === 'gateway' && cluster.dashboard_url) {
            window.open(cluster.dashboard_url, '_blank', 'noopener'); // the gateway serves its own dashboards
            return;
          }
          const plots = await requestAPI<IIndividualPlots>(
            `dashboard/${encodeURIComponent(cluster.id)}/individual-plots.json`
          );
          const byPath = new Map(Object.entries(plots).map(([label, path]) => [path.replace(/^\//, ''), label]));
          byPath.set('status', 'Status');
          let previous: DashboardPane | undefined;
          for (const wanted of settings.defaultPanes) {
            const label = byPath.get(wanted.replace(/^\//, ''));
            if (label) {
              previous = await openPane(cluster, `/${wanted.replace(/^\//, '')}`, label, previous?.id);
            }
          }
          if (!previous) {
            await openPane(cluster, '/status', 'Status');
          }
        } catch (error) {
          await showErrorMessage('Could not open the dashboard', message(error));
        }
      }
    });

    commands.addCommand(CommandIDs.useInNotebook, {
      label: 'Use Cluster in Notebook',
      caption: 'Insert a cell that connects the active notebook to the cluster',
      isEnabled: () => !!notebooks?.currentWidget,
      execute: async args => {
        const panel = notebooks?.currentWidget;
        if (!panel) {
          await showErrorMessage('No notebook', 'Open a notebook first, then use the cluster in it.');
          return;
        }
        try {
          const cluster = await target(args);
          const notebook = panel.content;
          NotebookActions.insertBelow(notebook);
          const cell = notebook.activeCell;
          if (cell) {
            cell.model.sharedModel.setSource(`%load_ext clusterkit\n%cluster connect ${cluster.name}`);
          }
          shell.activateById(panel.id);
        } catch (error) {
          await showErrorMessage('Could not use the cluster', message(error));
        }
      }
    });

    if (palette) {
      const category = 'Clusters';
      for (const command of [
        CommandIDs.showSidebar,
        CommandIDs.newCluster,
        CommandIDs.openDashboard,
        CommandIDs.scale,
        CommandIDs.stop,
        CommandIDs.useInNotebook,
        CommandIDs.refresh
      ]) {
        palette.addItem({ command, category });
      }
    }

    if (settingRegistry) {
      const apply = (loaded: ISettingRegistry.ISettings) => {
        const composite = loaded.composite as unknown as Partial<IClusterkitSettings>;
        settings.pollInterval = Number(composite.pollInterval ?? DEFAULTS.pollInterval);
        settings.defaultPanes = composite.defaultPanes ?? DEFAULTS.defaultPanes;
        settings.paneMode = composite.paneMode ?? DEFAULTS.paneMode;
        sidebar.interval = settings.pollInterval;
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          apply(loaded);
          loaded.changed.connect(apply);
        })
        .catch(reason => console.warn('clusterkit: cannot load settings', reason));
    }
  }
};

export default plugin;
