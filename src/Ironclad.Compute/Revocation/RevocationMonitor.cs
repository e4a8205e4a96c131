// Revocation: turns key-access signals (key disabled, deleted, expired; access policy or role removed;
// identity or vault deleted) and a periodic timer into fresh re-checks of every affected open volume,
// and revokes those the vault now refuses: sessions closed, DEKs zeroed, SAS grants ended, disk back
// at rest. Invariants: signals only choose what to re-check — the vault's answer to a fresh unwrap
// decides; the work runs on the monitor's own task, never on the publisher's (vault request) thread;
// a revocation is logged with the key URL, the volumes and the reason, never a secret.
using System.Threading.Channels;
using Ironclad.Compute.Access;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Disks;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Platform;
using Ironclad.Compute.Sessions;
using Ironclad.ResourceManager.KeyVault;
using Microsoft.Extensions.Logging;

namespace Ironclad.Compute.Revocation;

/// <summary>One revocation, as logged and as tests observe it.</summary>
/// <param name="Reason">The vault's refusal: names the key and what is missing.</param>
public sealed record VolumeRevocation(Guid VolumeId, string? ResourceId, string KeyUrl, KeyAccessFailure Failure, string Reason, int SessionsClosed, int GrantsEnded, DateTimeOffset At);

public sealed partial class RevocationMonitor : IAsyncDisposable
{
    /// <summary>The periodic re-check of every open volume when the server is not told otherwise.</summary>
    public static readonly TimeSpan DefaultRecheckInterval = TimeSpan.FromSeconds(300);

    private const int ParallelRechecks = 4;

    private readonly KeyAccessSignals _signals;
    private readonly IDiskSessions _sessions;
    private readonly DiskAccessGrants _grants;
    private readonly IDataKeyService _dataKeys;
    private readonly IDataKeyStore _dataKeyStore;
    private readonly IEncryptionSetDirectory _sets;
    private readonly IPlatformKeys _platformKeys;
    private readonly IVaultDirectory _vaults;
    private readonly IDiskDirectory _disks;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _recheckInterval;
    private readonly Action<Guid>? _forgetIdentityTokens;
    private readonly Channel<KeyAccessSignal?> _work = Channel.CreateUnbounded<KeyAccessSignal?>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private IDisposable? _subscription;
    private ITimer? _timer;
    private Task? _loop;

    public RevocationMonitor(
        KeyAccessSignals signals, IDiskSessions sessions, DiskAccessGrants grants, IDataKeyService dataKeys, IDataKeyStore dataKeyStore,
        IEncryptionSetDirectory sets, IPlatformKeys platformKeys, IVaultDirectory vaults, IDiskDirectory disks,
        TimeProvider time, ILogger<RevocationMonitor> logger, TimeSpan recheckInterval, Action<Guid>? forgetIdentityTokens = null)
    {
        // A deleted identity's cached vault token would still be honoured until it expires: drop it first.
        _forgetIdentityTokens = forgetIdentityTokens;
        _signals = signals ?? throw new ArgumentNullException(nameof(signals));
        _sessions = sessions ?? throw new ArgumentNullException(nameof(sessions));
        _grants = grants ?? throw new ArgumentNullException(nameof(grants));
        _dataKeys = dataKeys ?? throw new ArgumentNullException(nameof(dataKeys));
        _dataKeyStore = dataKeyStore ?? throw new ArgumentNullException(nameof(dataKeyStore));
        _sets = sets ?? throw new ArgumentNullException(nameof(sets));
        _platformKeys = platformKeys ?? throw new ArgumentNullException(nameof(platformKeys));
        _vaults = vaults ?? throw new ArgumentNullException(nameof(vaults));
        _disks = disks ?? throw new ArgumentNullException(nameof(disks));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(recheckInterval, TimeSpan.Zero);
        _recheckInterval = recheckInterval;
    }

    /// <summary>Raised after each revocation (on the monitor's task).</summary>
    public event Action<VolumeRevocation>? Revoked;

    /// <summary>Subscribes to the signals and starts the worker and the periodic re-check.</summary>
    public void Start()
    {
        if (_loop is not null)
        {
            return;
        }

        _subscription = _signals.Subscribe(OnSignal);
        _timer = _time.CreateTimer(_ => _work.Writer.TryWrite(null), null, _recheckInterval, _recheckInterval);
        _loop = Task.Run(() => RunAsync(_stopping.Token));
    }

    /// <summary>Re-checks every open volume now (what the periodic timer does); returns the revocations.</summary>
    public Task<IReadOnlyList<VolumeRevocation>> RecheckAllAsync(CancellationToken cancellationToken) =>
        RecheckAsync(_sessions.OpenVolumes(), null, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _subscription?.Dispose();
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        _work.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping: re-checks in flight were abandoned; the sessions are closed by their owner.
            }
        }

        _stopping.Dispose();
    }

    // On the publisher's thread (a vault request): only queue (and drop a deleted identity's cached token).
    private void OnSignal(KeyAccessSignal signal)
    {
        if (signal.Kind == KeyAccessSignalKind.IdentityDeleted && signal.PrincipalId is { } deleted)
        {
            _forgetIdentityTokens?.Invoke(deleted);
        }

        if (signal.Kind is KeyAccessSignalKind.KeyChanged or KeyAccessSignalKind.AccessChanged
            or KeyAccessSignalKind.IdentityDeleted or KeyAccessSignalKind.VaultChanged)
        {
            _work.Writer.TryWrite(signal);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _work.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Everything queued so far is one batch: a burst of events costs one re-check per volume.
            var signals = new List<KeyAccessSignal>();
            var everything = false;
            while (reader.TryRead(out var item))
            {
                if (item is null)
                {
                    everything = true;
                }
                else
                {
                    signals.Add(item);
                }
            }

            try
            {
                var open = _sessions.OpenVolumes();
                var affected = everything ? open : [.. open.Where(volume => signals.Any(signal => Affects(signal, volume)))];
                if (affected.Count > 0)
                {
                    await RecheckAsync(affected, everything ? null : signals[0], cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // The worker must outlive one bad batch; the failure is logged and the periodic re-check retries.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogBatchFailed(_logger, e);
            }
        }
    }

    private async Task<IReadOnlyList<VolumeRevocation>> RecheckAsync(IReadOnlyList<Guid> volumes, KeyAccessSignal? cause, CancellationToken cancellationToken)
    {
        var revocations = new List<VolumeRevocation>();
        await Parallel.ForEachAsync(volumes, new ParallelOptions { MaxDegreeOfParallelism = ParallelRechecks, CancellationToken = cancellationToken },
            async (volume, token) =>
            {
                if (await RecheckOneAsync(volume, cause, token).ConfigureAwait(false) is { } revocation)
                {
                    lock (revocations)
                    {
                        revocations.Add(revocation);
                    }
                }
            }).ConfigureAwait(false);
        return revocations;
    }

    private async Task<VolumeRevocation?> RecheckOneAsync(Guid volumeId, KeyAccessSignal? cause, CancellationToken cancellationToken)
    {
        try
        {
            // A fresh unwrap of every layer, as the identity each layer uses now; the DEKs are zeroed at once.
            using var keys = await _dataKeys.UnwrapAsync(volumeId, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (KeyAccessException e)
        {
            var reason = e.Message;
            var sessionsClosed = _sessions.Revoke(volumeId, reason);
            var grantsEnded = _grants.EndForRevocation(volumeId, reason);
            var now = _time.GetUtcNow();
            var revocation = new VolumeRevocation(volumeId, _disks.FindByVolume(volumeId)?.ResourceId, e.KeyUrl, e.Failure, reason, sessionsClosed, grantsEnded, now);
            var sinceSignalMs = cause is null ? -1 : (long)(now - cause.At).TotalMilliseconds;
            LogRevoked(_logger, e.KeyUrl, volumeId, revocation.ResourceId ?? "(unknown)", e.Failure, reason, sessionsClosed, grantsEnded,
                cause?.Kind.ToString() ?? "periodic re-check", sinceSignalMs);
            Revoked?.Invoke(revocation);
            return revocation;
        }
        catch (Exception e) when (e is not OperationCanceledException and not KeyAccessException)
        {
            // Not the vault's answer (a bug, the store closing): nothing is decided; the next re-check retries.
            LogRecheckFailed(_logger, volumeId, e);
            return null;
        }
    }

    /// <summary>Whether <paramref name="signal"/> may concern the open volume: any of its layers could be affected.</summary>
    private bool Affects(KeyAccessSignal signal, Guid volumeId)
    {
        var layers = _dataKeyStore.ForVolume(volumeId);
        if (layers.Count == 0)
        {
            return true;
        }

        int? vaultPort = null;
        if (signal.VaultName is not null && _vaults.FindByName(signal.VaultName) is { } vault)
        {
            vaultPort = vault.Port;
        }

        return layers.Any(layer => Affects(signal, vaultPort, layer));
    }

    private bool Affects(KeyAccessSignal signal, int? vaultPort, DataKeyRecord layer)
    {
        var kid = layer.Wrapped.Kid;
        // A vault we can no longer find (purged) may be anyone's: keep the layer in.
        if (vaultPort is { } port && kid.VaultUri.Port != port)
        {
            return false;
        }

        if (signal.KeyName is not null && !kid.Name.Equals(signal.KeyName, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return signal.PrincipalId is not { } principal || PrincipalOf(layer) is not { } actor || actor == principal;
    }

    /// <summary>The identity that unwraps the layer now; null when it cannot be told (then the layer is re-checked).</summary>
    private Guid? PrincipalOf(DataKeyRecord layer)
    {
        try
        {
            return layer.Kind switch
            {
                KeyEncryptionKind.Customer when layer.EncryptionSetId is not null => _sets.Find(layer.EncryptionSetId)?.KeyAccessPrincipalId,
                KeyEncryptionKind.Platform when layer.PlatformRegion is not null => _platformKeys.PrincipalFor(layer.PlatformRegion),
                _ => null,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or ArgumentException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 6310, Level = LogLevel.Warning,
        Message = "Revoked access to volume {VolumeId} ({ResourceId}): key {KeyUrl} refused ({Failure}): {Reason}; closed {SessionsClosed} session(s), ended {GrantsEnded} SAS grant(s); cause {Cause}, {SinceSignalMs} ms after the signal")]
    private static partial void LogRevoked(
        ILogger logger, string keyUrl, Guid volumeId, string resourceId, KeyAccessFailure failure, string reason, int sessionsClosed, int grantsEnded, string cause, long sinceSignalMs);

    [LoggerMessage(EventId = 6312, Level = LogLevel.Error, Message = "Re-checking the key access of volume {VolumeId} failed; the next re-check will try again")]
    private static partial void LogRecheckFailed(ILogger logger, Guid volumeId, Exception exception);

    [LoggerMessage(EventId = 6311, Level = LogLevel.Error, Message = "A revocation re-check failed; the periodic re-check will try again")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception);
}
