// Key rotation for disk encryption sets: on a new key version (KeyVersionCreated signal, or the periodic
// check) a set with rotationToLatestKeyVersionEnabled moves its active key to the latest version, and
// every customer-key DEK layer of the set not under the active version is re-wrapped under it (a few in
// parallel, through IDataKeyService — never rewriting disk data). Invariants: previousKeys lists exactly
// the versions that still wrap some layer of the set; a failure is recorded in autoKeyRotationError and
// retried at the next check; one set is worked on by one pass at a time (the work queue coalesces).
using System.Collections.Concurrent;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Revocation;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.EncryptionSets;

public sealed class KeyRotationWorker : IAsyncDisposable
{
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromMinutes(1);

    /// <summary>How many layers of one set are re-wrapped at once (each is one unwrap and one wrap at the vault).</summary>
    public const int RewrapParallelism = 8;

    private readonly EncryptionSetStore _store;
    private readonly EncryptionSetVerifier _verifier;
    private readonly EncryptionSetKeyValidator _validator;
    private readonly Func<IDataKeyStore> _dataKeys;
    private readonly Func<IDataKeyService> _dataKeyService;
    private readonly EncryptionSetWorkList _queue;
    private readonly KeyAccessSignals _signals;
    private readonly TimeProvider _time;
    private readonly TimeSpan _checkInterval;
    private readonly CancellationTokenSource _stopping = new();
    private IDisposable? _subscription;
    private Task? _loop;
    private Task? _ticker;

    internal KeyRotationWorker(
        EncryptionSetStore store,
        EncryptionSetVerifier verifier,
        EncryptionSetKeyValidator validator,
        Func<IDataKeyStore> dataKeys,
        Func<IDataKeyService> dataKeyService,
        EncryptionSetWorkList queue,
        KeyAccessSignals signals,
        TimeProvider time,
        TimeSpan checkInterval)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _verifier = verifier ?? throw new ArgumentNullException(nameof(verifier));
        _validator = validator ?? throw new ArgumentNullException(nameof(validator));
        _dataKeys = dataKeys ?? throw new ArgumentNullException(nameof(dataKeys));
        _dataKeyService = dataKeyService ?? throw new ArgumentNullException(nameof(dataKeyService));
        _queue = queue ?? throw new ArgumentNullException(nameof(queue));
        _signals = signals ?? throw new ArgumentNullException(nameof(signals));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(checkInterval, TimeSpan.Zero);
        _checkInterval = checkInterval;
    }

    /// <summary>A pass over a set failed unexpectedly (the set id and the error; never key material). The host logs it.</summary>
    public event Action<string, Exception>? WorkFailed;

    /// <summary>A set's active key moved to a new version (set id, old kid, new kid).</summary>
    public event Action<string, string, string>? Rotated;

    /// <summary>Subscribes to the signals, queues what is due (work left before a restart included) and starts the passes.</summary>
    public void Start()
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("The key rotation worker has already started.");
        }

        _subscription = _signals.Subscribe(OnSignal);
        EnqueueDue();
        _loop = Task.Run(() => RunAsync(_stopping.Token));
        _ticker = Task.Run(() => TickAsync(_stopping.Token));
    }

    public async ValueTask DisposeAsync()
    {
        _subscription?.Dispose();
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { _loop, _ticker })
        {
            if (task is not null)
            {
                try
                {
#pragma warning disable VSTHRD003 // The worker's own tasks, started in Start.
                    await task.ConfigureAwait(false);
#pragma warning restore VSTHRD003
                }
                catch (OperationCanceledException)
                {
                    // stopping
                }
            }
        }

        _stopping.Dispose();
    }

    /// <summary>Queues every set with something to do: not verified, auto-rotating, with previous keys or a rotation error.</summary>
    internal void EnqueueDue()
    {
        foreach (var set in _store.All())
        {
            if (!set.IsVerified || set.RotationToLatestKeyVersionEnabled || set.PreviousKeys.Count > 0 || set.RotationErrorCode is not null)
            {
                _queue.Enqueue(set.Id, checkLatestVersion: set.RotationToLatestKeyVersionEnabled);
            }
        }
    }

    private void OnSignal(KeyAccessSignal signal)
    {
        foreach (var set in _store.All())
        {
            var vaultName = ResourceId.TryParse(set.SourceVaultId, out var vaultId) ? vaultId.Name : "";
            var sameVault = signal.VaultName is null || string.Equals(signal.VaultName, vaultName, StringComparison.OrdinalIgnoreCase);
            var keyName = KeyReference.TryParse(set.ActiveKeyUrl, out var active) ? active.Name : "";
            var sameKey = sameVault && (signal.KeyName is null || string.Equals(signal.KeyName, keyName, StringComparison.OrdinalIgnoreCase));
            switch (signal.Kind)
            {
                case KeyAccessSignalKind.KeyVersionCreated when sameKey && set.RotationToLatestKeyVersionEnabled:
                    _queue.Enqueue(set.Id, checkLatestVersion: true);
                    break;
                case KeyAccessSignalKind.KeyVersionCreated:
                    break;
                default:
                    // Access, key or vault changed: a set waiting for access (or retrying a failed re-wrap) tries again now.
                    if (sameVault && (!set.IsVerified || set.RotationErrorCode is not null))
                    {
                        _queue.Enqueue(set.Id, checkLatestVersion: set.RotationToLatestKeyVersionEnabled);
                    }

                    break;
            }
        }
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_checkInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                EnqueueDue();
            }
#pragma warning disable CA1031 // A failed sweep (e.g. a busy database) is reported and retried at the next tick.
            catch (Exception e)
#pragma warning restore CA1031
            {
                WorkFailed?.Invoke("(periodic check)", e);
            }
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var (id, checkLatest) = await _queue.DequeueAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await ProcessAsync(id, checkLatest, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // One set's failure must not stop the worker; it is reported and the set is retried at the next check.
            catch (Exception e)
#pragma warning restore CA1031
            {
                WorkFailed?.Invoke(id, e);
            }
        }
    }

    /// <summary>One pass over a set: re-verify if needed, move to the latest version if asked, re-wrap stale layers.</summary>
    internal async Task ProcessAsync(string encryptionSetId, bool checkLatestVersion, CancellationToken cancellationToken)
    {
        var set = _store.Find(encryptionSetId);
        if (set is null)
        {
            return;
        }

        if (!set.IsVerified)
        {
            set = await _verifier.ReverifyAsync(set, cancellationToken).ConfigureAwait(false);
            if (set is not { IsVerified: true })
            {
                return;
            }
        }

        if (checkLatestVersion && set.RotationToLatestKeyVersionEnabled)
        {
            set = await MoveToLatestVersionAsync(set, cancellationToken).ConfigureAwait(false);
            if (set is null)
            {
                return;
            }
        }

        await RewrapAsync(set, cancellationToken).ConfigureAwait(false);
    }

    private async Task<EncryptionSetRecord?> MoveToLatestVersionAsync(EncryptionSetRecord set, CancellationToken cancellationToken)
    {
        var active = KeyReference.Parse(set.ActiveKeyUrl);
        VaultKeyProperties latest;
        try
        {
            latest = await _validator.CurrentVersionAsync(set.ActingPrincipalId, active, cancellationToken).ConfigureAwait(false);
        }
        catch (KeyAccessException e)
        {
            RecordError(set.Id, e.Failure.ToString(), $"Checking key {active.Versionless()} for a new version as identity {set.ActingPrincipalId:D} failed: {e.Message}. Retried at the next check.");
            return null;
        }
        catch (ArmException e)
        {
            RecordError(set.Id, e.Code, $"The latest version of key {active.Versionless()} cannot be used: {e.Message} Retried at the next check.");
            return null;
        }

        if (string.Equals(latest.Kid.Version, active.Version, StringComparison.OrdinalIgnoreCase))
        {
            return set;
        }

        var now = _time.GetUtcNow();
        var moved = _store.Update(set.Id, current =>
        {
            if (!string.Equals(current.ActiveKeyUrl, set.ActiveKeyUrl, StringComparison.OrdinalIgnoreCase))
            {
                return null; // someone changed the key meanwhile: their change wins
            }

            var previous = current.PreviousKeys.Where(p => !string.Equals(p.KeyUrl, current.ActiveKeyUrl, StringComparison.OrdinalIgnoreCase)).ToList();
            previous.Add(new PreviousKey(current.ActiveKeyUrl, current.SourceVaultId));
            previous.RemoveAll(p => string.Equals(p.KeyUrl, latest.Kid.ToString(), StringComparison.OrdinalIgnoreCase));
            return current with
            {
                ActiveKeyUrl = latest.Kid.ToString(),
                PreviousKeys = previous,
                LastKeyRotationTimestamp = now,
                RotationErrorCode = null,
                RotationErrorMessage = null,
            };
        });
        if (moved is not null)
        {
            Rotated?.Invoke(set.Id, set.ActiveKeyUrl, moved.ActiveKeyUrl);
        }

        return moved ?? _store.Find(set.Id);
    }

    private async Task RewrapAsync(EncryptionSetRecord set, CancellationToken cancellationToken)
    {
        var info = DiskEncryptionSetsType.Info(set);
        var target = info.Target();
        var stale = Stale(set.Id, info.ActiveKey);
        var failures = new ConcurrentQueue<Exception>();
        if (stale.Count > 0)
        {
            var service = _dataKeyService();
            await Parallel.ForEachAsync(
                stale,
                new ParallelOptions { MaxDegreeOfParallelism = RewrapParallelism, CancellationToken = cancellationToken },
                async (layer, token) =>
                {
                    try
                    {
                        await service.RewrapAsync(layer.VolumeId, layer.Layer, target, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (token.IsCancellationRequested)
                    {
                        throw;
                    }
#pragma warning disable CA1031 // Collected: the pass records the first failure and the set is retried later.
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        failures.Enqueue(e);
                    }
                }).ConfigureAwait(false);
        }

        var remaining = Stale(set.Id, info.ActiveKey);
        var first = failures.TryPeek(out var f) ? f : null;
        _store.Update(set.Id, current =>
        {
            var active = KeyReference.Parse(current.ActiveKeyUrl);
            var previous = remaining
                .Select(r => r.Wrapped.Kid)
                .Where(kid => !SameVersion(kid, active))
                .DistinctBy(kid => kid.ToString(), StringComparer.OrdinalIgnoreCase)
                .Select(kid => new PreviousKey(kid.ToString(),
                    current.PreviousKeys.FirstOrDefault(p => string.Equals(p.KeyUrl, kid.ToString(), StringComparison.OrdinalIgnoreCase))?.SourceVaultId ?? current.SourceVaultId))
                .OrderBy(p => p.KeyUrl, StringComparer.Ordinal)
                .ToList();
            var (code, message) = first is null
                ? (null, null)
                : (first is KeyAccessException access ? access.Failure.ToString() : "RewrapFailed",
                   $"Re-wrapping {failures.Count} of {stale.Count} data keys of the set under {target.Key} as identity {target.PrincipalId:D} failed: {first.Message} Retried at the next check.");
            var unchanged = previous.Select(p => p.KeyUrl).SequenceEqual(current.PreviousKeys.Select(p => p.KeyUrl), StringComparer.OrdinalIgnoreCase)
                && current.RotationErrorCode == code && current.RotationErrorMessage == message;
            return unchanged ? null : current with { PreviousKeys = previous, RotationErrorCode = code, RotationErrorMessage = message };
        });

        var staleBefore = stale.Select(r => (r.VolumeId, r.Layer)).ToHashSet();
        if (first is null && remaining.Any(r => !staleBefore.Contains((r.VolumeId, r.Layer))))
        {
            // Layers added under an old version while this pass ran (or the key moved again): another pass.
            _queue.Enqueue(set.Id);
        }
    }

    private List<DataKeyRecord> Stale(string setId, KeyReference active) =>
        [.. _dataKeys().ForEncryptionSet(setId).Where(r => r.Kind == KeyEncryptionKind.Customer && !SameVersion(r.Wrapped.Kid, active))];

    private void RecordError(string setId, string code, string message) =>
        _store.Update(setId, current => current.RotationErrorCode == code && current.RotationErrorMessage == message
            ? null
            : current with { RotationErrorCode = code, RotationErrorMessage = message });

    private static bool SameVersion(KeyReference a, KeyReference b) =>
        a.IsSameKey(b) && string.Equals(a.Version, b.Version, StringComparison.OrdinalIgnoreCase);
}
