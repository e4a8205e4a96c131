// Unsealed RSA objects per key version, kept in memory so a key operation costs one RSA private
// operation and not an unseal plus a PKCS#8 import. Invariants: an entry is disposed (its native key
// freed) only when it has been evicted AND no operation still holds a lease on it; an eviction that
// races a load wins (the loaded object is dropped), so a deleted or purged version is not resurrected.
// One RSA instance serves concurrent operations: RSAOpenSsl creates a fresh EVP_PKEY_CTX per call
// over a shared, read-only EVP_PKEY (KeyOperationsTests.Parallel_unwraps_of_one_version_all_succeed).
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Ironclad.KeyVault.Keys;

internal sealed class KeyMaterialCache : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _generation;

    public static string Id(string vaultKey, string nameKey, string version) => $"{vaultKey}/{nameKey}/{version}";

    public int Count => _entries.Count;

    /// <summary>
    /// A lease on the version's RSA object, loading it with <paramref name="load"/> on a miss. Dispose
    /// the lease after the operation.
    /// </summary>
    public Lease Acquire(string id, Func<RSA> load)
    {
        while (true)
        {
            if (_entries.TryGetValue(id, out var existing))
            {
                if (existing.TryAcquire())
                {
                    return new Lease(existing);
                }

                // Retired under us: it is being evicted; drop it from the map if still there and retry.
                _entries.TryRemove(new KeyValuePair<string, Entry>(id, existing));
                continue;
            }

            var generation = Interlocked.Read(ref _generation);
            var entry = new Entry(load());
            if (!_entries.TryAdd(id, entry))
            {
                entry.Retire();
                continue;
            }

            if (Interlocked.Read(ref _generation) != generation)
            {
                // An eviction ran while we loaded: it may have been for this version. Take no chances.
                if (_entries.TryRemove(new KeyValuePair<string, Entry>(id, entry)))
                {
                    entry.Retire();
                }

                continue;
            }

            if (entry.TryAcquire())
            {
                return new Lease(entry);
            }
        }
    }

    /// <summary>Inserts an object made elsewhere (a freshly generated key), replacing nothing.</summary>
    public void Add(string id, RSA rsa)
    {
        var entry = new Entry(rsa);
        if (!_entries.TryAdd(id, entry))
        {
            entry.Retire();
        }
    }

    /// <summary>Evicts every entry whose id starts with <paramref name="prefix"/> (a version id, "vault/name/" or "vault/").</summary>
    public void EvictPrefix(string prefix)
    {
        Interlocked.Increment(ref _generation);
        foreach (var (id, entry) in _entries)
        {
            if (id.StartsWith(prefix, StringComparison.Ordinal) && _entries.TryRemove(new KeyValuePair<string, Entry>(id, entry)))
            {
                entry.Retire();
            }
        }
    }

    public void Dispose() => EvictPrefix(string.Empty);

    internal readonly struct Lease(Entry entry) : IDisposable
    {
        public RSA Rsa => entry.Rsa;

        public void Dispose() => entry.Release();
    }

    internal sealed class Entry(RSA rsa)
    {
        // One reference belongs to the cache itself until Retire; each lease adds one.
        private int _references = 1;
        private int _retired;

        public RSA Rsa { get; } = rsa;

        public bool TryAcquire()
        {
            while (true)
            {
                var current = Volatile.Read(ref _references);
                if (current == 0 || Volatile.Read(ref _retired) != 0)
                {
                    return false;
                }

                if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
                {
                    return true;
                }
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
            {
                Rsa.Dispose();
            }
        }

        public void Retire()
        {
            if (Interlocked.Exchange(ref _retired, 1) == 0)
            {
                Release();
            }
        }
    }
}
