// The VM runtime (IVmRuntime): a running VM is one disk session per disk (purpose "vm:{vmId}") and one
// NBD export per session, visible only to the VM's client certificate. Invariants: one lock per VM
// serialises start, stop, attach, detach and revocation for it, so a start racing a revocation ends
// stopped; start is all or nothing; stop withdraws the exports (in-flight calls finish, later ones
// fail) before it flushes and closes the sessions; nothing here is persisted (IVmDirectory records).
using System.Collections.Concurrent;
using Ironclad.Compute.Access;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Revocation;
using Ironclad.Compute.Sessions;
using Ironclad.ResourceManager.Providers;
using Ironclad.Storage;
using Microsoft.Extensions.Logging;

namespace Ironclad.Compute.VirtualMachines.Runtime;

public sealed partial class VmRuntime : IVmRuntime, IAsyncDisposable
{
    private readonly IDiskSessions _sessions;
    private readonly Func<IVmDiskExports> _exports;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, VmSlot> _vms = new(StringComparer.OrdinalIgnoreCase);
    private readonly RevocationMonitor? _monitor;
    private int _disposed;

    /// <param name="exports">Resolved at first use (the host's NBD side).</param>
    /// <param name="monitor">Its Revoked event stops every running VM with the revoked volume; null in tests that drive <see cref="OnRevokedAsync"/>.</param>
    public VmRuntime(IDiskSessions sessions, Func<IVmDiskExports> exports, RevocationMonitor? monitor, TimeProvider time, ILogger<VmRuntime> logger)
    {
        _sessions = sessions ?? throw new ArgumentNullException(nameof(sessions));
        _exports = exports ?? throw new ArgumentNullException(nameof(exports));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _monitor = monitor;
        if (monitor is not null)
        {
            monitor.Revoked += OnRevoked;
        }
    }

    public event Action<VmStoppedByServer>? StoppedByServer;

    public async Task<VmRunningState> StartAsync(VmRuntimeSpec vm, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var exports = _exports();
        if (string.Equals(exports.TlsMode, "off", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(
                409,
                "OperationNotAllowed",
                $"VM '{vm.Name}' cannot start: its disks are never served over plain NBD, and this server runs with --nbd-tls off. " +
                "Restart the server with --nbd-tls required (the default) or --nbd-tls mutual.");
        }

        var slot = _vms.GetOrAdd(vm.VmId, _ => new VmSlot());
        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (slot.Running is { } running)
            {
                return running.State;
            }

            var subject = VmNbdNames.ClientCertificateSubject(vm.VmUniqueId);
            var opened = new List<AttachedDisk>(vm.Disks.Count);
            try
            {
                foreach (var disk in vm.Disks)
                {
                    opened.Add(await OpenAsync(vm, disk, cancellationToken).ConfigureAwait(false));
                }

                foreach (var attached in opened)
                {
                    exports.Publish(attached.ExportName, attached.Session, subject);
                    attached.Published = true;
                }
            }
            catch
            {
                Close(exports, opened);
                throw;
            }

            var now = _time.GetUtcNow();
            var run = new RunningVm(vm, subject, now, exports.NbdAddress, exports.TlsMode);
            foreach (var attached in opened)
            {
                run.Disks.Add(attached);
            }

            run.Refresh();
            slot.Running = run;
            LogStarted(_logger, vm.VmId, vm.Disks.Count);
            return run.State;
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    public async Task StopAsync(string vmId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        if (!_vms.TryGetValue(vmId, out var slot))
        {
            return;
        }

        // Stop is not cancelled half-way: once the gate is ours the VM ends stopped.
        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            StopLocked(slot);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    public async Task AttachAsync(string vmId, VmDisk disk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        ArgumentNullException.ThrowIfNull(disk);
        if (!_vms.TryGetValue(vmId, out var slot))
        {
            return;
        }

        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (slot.Running is not { } run || run.Disks.Exists(d => string.Equals(d.Disk.DiskId, disk.DiskId, StringComparison.OrdinalIgnoreCase)))
            {
                return;
            }

            var exports = _exports();
            var attached = await OpenAsync(run.Spec, disk, cancellationToken).ConfigureAwait(false);
            try
            {
                exports.Publish(attached.ExportName, attached.Session, run.Subject);
                attached.Published = true;
            }
            catch
            {
                Close(exports, [attached]);
                throw;
            }

            run.Disks.Add(attached);
            run.Refresh();
            LogAttached(_logger, vmId, disk.DiskId);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    public async Task DetachAsync(string vmId, string diskId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        ArgumentNullException.ThrowIfNull(diskId);
        if (!_vms.TryGetValue(vmId, out var slot))
        {
            return;
        }

        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (slot.Running is not { } run || run.Disks.Find(d => string.Equals(d.Disk.DiskId, diskId, StringComparison.OrdinalIgnoreCase)) is not { } attached)
            {
                return;
            }

            run.Disks.Remove(attached);
            run.Refresh();
            Close(_exports(), [attached]);
            LogDetached(_logger, vmId, diskId);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    public VmRunningState? Find(string vmId)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        return _vms.TryGetValue(vmId, out var slot) ? slot.Running?.State : null;
    }

    public IReadOnlyList<VmRunningState> Running() =>
        [.. _vms.Values.Select(slot => slot.Running?.State).OfType<VmRunningState>().OrderBy(s => s.VmId, StringComparer.OrdinalIgnoreCase)];

    /// <summary>
    /// Stops every running VM with a disk on the revoked volume (its sessions are already closed, so its
    /// I/O already fails) and raises <see cref="StoppedByServer"/> for each. Returns the VM ids stopped.
    /// </summary>
    public async Task<IReadOnlyList<string>> OnRevokedAsync(VolumeRevocation revocation)
    {
        ArgumentNullException.ThrowIfNull(revocation);
        var code = KeyAccessErrors.CodeOf(revocation.Failure).Code;
        var stopped = new List<string>();

        // Every slot, running or being started: a start in progress holds its gate, so waiting for
        // it here and then looking is what makes "start raced revocation" end stopped.
        var slots = _vms.ToArray();
        await Task.WhenAll(slots.Select(async pair =>
        {
            var slot = pair.Value;
            await slot.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            VmStoppedByServer? record = null;
            try
            {
                // Only sessions the monitor really closed: a VM started again after access returned
                // (new sessions on the same volume) is not stopped by a late-handled old revocation.
                if (slot.Running is { } run && run.Disks.Exists(d => d.Disk.VolumeId == revocation.VolumeId && d.Session.RevokedReason is not null))
                {
                    StopLocked(slot);
                    record = new VmStoppedByServer(run.Spec.VmId, code, revocation.Reason, _time.GetUtcNow());
                    LogStoppedByRevocation(_logger, run.Spec.VmId, revocation.KeyUrl, code);
                }
            }
            finally
            {
                slot.Gate.Release();
            }

            if (record is not null)
            {
                lock (stopped)
                {
                    stopped.Add(record.VmId);
                }

                RaiseStoppedByServer(record);
            }
        })).ConfigureAwait(false);

        return stopped;
    }

    /// <summary>
    /// Start-up resume: starts every VM the directory records as running. A VM whose key is refused is
    /// recorded as stopped by the server (with the key's code and reason); other failures are logged.
    /// </summary>
    public async Task<int> ResumeAsync(IVmDirectory directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var started = 0;
        foreach (var vm in directory.ShouldBeRunning())
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await StartAsync(vm, cancellationToken).ConfigureAwait(false);
                started++;
            }
            catch (KeyAccessException e)
            {
                var code = KeyAccessErrors.CodeOf(e.Failure).Code;
                LogResumeRefused(_logger, vm.VmId, e.KeyUrl, code);
                directory.RecordStoppedByServer(new VmStoppedByServer(vm.VmId, code, e.Message, _time.GetUtcNow()));
            }
            catch (Exception e) when (e is ArmException or StorageException or InvalidOperationException or IOException)
            {
                LogResumeFailed(_logger, vm.VmId, e);
            }
        }

        return started;
    }

    /// <summary>Stops every running VM (host shutdown): exports closed before sessions are disposed.</summary>
    public async Task StopAllAsync(CancellationToken cancellationToken)
    {
        foreach (var vmId in _vms.Keys.ToArray())
        {
            await StopAsync(vmId, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_monitor is not null)
        {
            _monitor.Revoked -= OnRevoked;
        }

        await StopAllAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private static string Purpose(VmRuntimeSpec vm) => $"vm:{vm.VmId}";

    private async Task<AttachedDisk> OpenAsync(VmRuntimeSpec vm, VmDisk disk, CancellationToken cancellationToken)
    {
        var session = await _sessions.OpenAsync(disk.VolumeId, Purpose(vm), cancellationToken).ConfigureAwait(false);
        return new AttachedDisk(disk, session, VmNbdNames.ExportName(vm.VmUniqueId, disk.Lun));
    }

    // Caller holds the slot's gate.
    private void StopLocked(VmSlot slot)
    {
        if (slot.Running is not { } run)
        {
            return;
        }

        slot.Running = null;
        Close(_exports(), run.Disks);
        LogStopped(_logger, run.Spec.VmId);
    }

    /// <summary>Withdraws every export first (no new I/O can reach a session), then flushes and disposes the sessions.</summary>
    private void Close(IVmDiskExports exports, IReadOnlyList<AttachedDisk> disks)
    {
        foreach (var disk in disks.Where(d => d.Published))
        {
            exports.Withdraw(disk.ExportName);
            disk.Published = false;
        }

        foreach (var disk in disks)
        {
            try
            {
                if (disk.Session.RevokedReason is null)
                {
                    disk.Session.Flush();
                }
            }
            catch (Exception e) when (e is DiskSessionRevokedException or StorageException or ObjectDisposedException)
            {
                // Revoked in between (nothing more can be written) or the store failed: the session is closed anyway.
                LogFlushFailed(_logger, disk.Disk.DiskId, e.GetType().Name);
            }
            finally
            {
                disk.Session.Dispose();
            }
        }
    }

    // On the monitor's task: hand the work to the pool so a VM's gate never blocks the monitor.
    private void OnRevoked(VolumeRevocation revocation)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await OnRevokedAsync(revocation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is StorageException or InvalidOperationException or ObjectDisposedException)
            {
                LogRevocationHandlingFailed(_logger, revocation.VolumeId, e);
            }
        });
    }

    private void RaiseStoppedByServer(VmStoppedByServer record)
    {
        var handlers = StoppedByServer;
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList().Cast<Action<VmStoppedByServer>>())
        {
            try
            {
                handler(record);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One subscriber's failure must not keep the others (the VM record) from hearing of it.
                LogSubscriberFailed(_logger, record.VmId, e);
            }
        }
    }

    [LoggerMessage(EventId = 6700, Level = LogLevel.Information, Message = "VM {VmId} started: {Disks} disk(s) exported over NBD")]
    private static partial void LogStarted(ILogger logger, string vmId, int disks);

    [LoggerMessage(EventId = 6701, Level = LogLevel.Information, Message = "VM {VmId} stopped: exports withdrawn, disk sessions closed")]
    private static partial void LogStopped(ILogger logger, string vmId);

    [LoggerMessage(EventId = 6702, Level = LogLevel.Information, Message = "VM {VmId}: disk {DiskId} attached")]
    private static partial void LogAttached(ILogger logger, string vmId, string diskId);

    [LoggerMessage(EventId = 6703, Level = LogLevel.Information, Message = "VM {VmId}: disk {DiskId} detached")]
    private static partial void LogDetached(ILogger logger, string vmId, string diskId);

    [LoggerMessage(EventId = 6704, Level = LogLevel.Warning, Message = "VM {VmId} stopped by the server: key {KeyUrl} refused ({Code})")]
    private static partial void LogStoppedByRevocation(ILogger logger, string vmId, string keyUrl, string code);

    [LoggerMessage(EventId = 6705, Level = LogLevel.Warning, Message = "VM {VmId} not resumed at start-up: key {KeyUrl} refused ({Code})")]
    private static partial void LogResumeRefused(ILogger logger, string vmId, string keyUrl, string code);

    [LoggerMessage(EventId = 6706, Level = LogLevel.Error, Message = "VM {VmId} could not be resumed at start-up")]
    private static partial void LogResumeFailed(ILogger logger, string vmId, Exception exception);

    [LoggerMessage(EventId = 6707, Level = LogLevel.Warning, Message = "Disk {DiskId}: flush at stop failed ({Error}); the session is closed")]
    private static partial void LogFlushFailed(ILogger logger, string diskId, string error);

    [LoggerMessage(EventId = 6708, Level = LogLevel.Error, Message = "Stopping the VMs of revoked volume {VolumeId} failed")]
    private static partial void LogRevocationHandlingFailed(ILogger logger, Guid volumeId, Exception exception);

    [LoggerMessage(EventId = 6709, Level = LogLevel.Error, Message = "A StoppedByServer subscriber failed for VM {VmId}")]
    private static partial void LogSubscriberFailed(ILogger logger, string vmId, Exception exception);

    private sealed class VmSlot
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>Written under the gate; read without it (Find, Running) — the reference swap is atomic.</summary>
        public volatile RunningVm? Running;
    }

    private sealed class AttachedDisk(VmDisk disk, IDiskSession session, string exportName)
    {
        public VmDisk Disk { get; } = disk;

        public IDiskSession Session { get; } = session;

        public string ExportName { get; } = exportName;

        public bool Published { get; set; }
    }

    private sealed class RunningVm
    {
        private readonly string _address;
        private readonly string _tls;
        private readonly DateTimeOffset _since;
        private volatile VmRunningState _state = null!;

        public RunningVm(VmRuntimeSpec spec, string subject, DateTimeOffset since, string address, string tls)
        {
            Spec = spec;
            Subject = subject;
            _since = since;
            _address = address;
            _tls = tls;
        }

        public VmRuntimeSpec Spec { get; }

        public string Subject { get; }

        /// <summary>Changed under the slot's gate only.</summary>
        public List<AttachedDisk> Disks { get; } = [];

        /// <summary>The last Refresh (called before the VM is visible and after each change).</summary>
        public VmRunningState State => _state;

        public VmRunningState Refresh()
        {
            var exports = Disks
                .OrderBy(d => d.Disk.Lun ?? -1)
                .Select(d => new VmExport(d.Disk.DiskId, d.Disk.DiskName, d.Disk.Lun, d.ExportName))
                .ToList();
            var state = new VmRunningState(Spec.VmId, _address, _tls, Subject, exports, _since);
            _state = state;
            return state;
        }
    }
}
