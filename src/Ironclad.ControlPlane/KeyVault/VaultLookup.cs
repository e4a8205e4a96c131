// The vault behind a data-plane port, read on the hot path of every call. Committed state is cached
// per port and the whole cache is dropped on every vault event (created, updated, access policy
// changed, deleted, recovered, purged — each published after its commit, before ARM answers), so the
// next call after a change always sees it: a removed access policy entry is refused on the very next
// call. Invariant: an entry filled from a read that raced with an event is discarded (generation check
// after the store), never left stale.
using System.Collections.Concurrent;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.ControlPlane.KeyVault;

/// <summary>A vault and its access policies, parsed once per committed version.</summary>
internal sealed record VaultSnapshot(VaultRecord Vault, IReadOnlyList<VaultAccessPolicy> AccessPolicies);

internal sealed class VaultLookup : IDisposable
{
    private readonly IVaultDirectory _directory;
    private readonly ConcurrentDictionary<int, VaultSnapshot> _byPort = new();
    private readonly IDisposable? _subscription;
    private long _generation;

    /// <param name="events">Without events nothing is cached: every call reads the directory.</param>
    public VaultLookup(IVaultDirectory directory, IVaultEvents? events)
    {
        _directory = directory;
        _subscription = events?.Subscribe(_ =>
        {
            Interlocked.Increment(ref _generation);
            _byPort.Clear();
        });
    }

    public VaultSnapshot? Find(int port)
    {
        if (_subscription is not null && _byPort.TryGetValue(port, out var cached))
        {
            return cached;
        }

        var generation = Interlocked.Read(ref _generation);
        if (_directory.FindByPort(port) is not { } vault)
        {
            return null;
        }

        var snapshot = new VaultSnapshot(vault, vault.AccessPolicies);
        if (_subscription is not null)
        {
            _byPort[port] = snapshot;
            // An event since the read: its Clear may have run before our store; drop what we stored.
            if (Interlocked.Read(ref _generation) != generation)
            {
                _byPort.TryRemove(new KeyValuePair<int, VaultSnapshot>(port, snapshot));
            }
        }

        return snapshot;
    }

    public void Dispose() => _subscription?.Dispose();
}
