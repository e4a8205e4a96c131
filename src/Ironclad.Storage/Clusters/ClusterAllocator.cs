// Physical cluster allocation: a bitmap of clusters in use, lowest-free-first, plus deferred frees.
// Free space is not persisted: recovery recomputes it by marking every cluster the maps reference.
// Invariants: a cluster allocated but not yet published in a map is never collected; a freed cluster is not handed out again until the journal sequence that unmapped it is
// durable (and its blocks are punched), so a crash can never leave a durable map pointing at a
// cluster that was meanwhile reused for other data.
using System.Numerics;

namespace Ironclad.Storage.Clusters;

internal sealed class ClusterAllocator
{
    private readonly Lock _lock = new();
    private readonly Queue<(ulong Cluster, ulong Sequence)> _pendingFrees = new();
    private readonly HashSet<ulong> _pendingSet = [];
    private readonly HashSet<ulong> _inFlight = [];
    private ulong[] _inUse = new ulong[1024];
    private ulong _searchFromWord;
    private long _inUseCount;
    private HashSet<ulong>? _allocatedDuringCollection;

    /// <summary>One past the highest cluster ever handed out (bounds the garbage collector's sweep).</summary>
    public ulong HighWater { get; private set; }

    public long InUseCount
    {
        get
        {
            lock (_lock)
            {
                return _inUseCount;
            }
        }
    }

    public long PendingFreeCount
    {
        get
        {
            lock (_lock)
            {
                return _pendingSet.Count;
            }
        }
    }

    /// <summary>Rebuilds state from the set of referenced clusters (recovery).</summary>
    public void Initialize(ulong[] referenced, ulong highWater)
    {
        lock (_lock)
        {
            _inUse = referenced.Length >= 1024 ? referenced : Grow(referenced, 1024);
            HighWater = highWater;
            _inUseCount = 0;
            foreach (var word in _inUse)
            {
                _inUseCount += BitOperations.PopCount(word);
            }

            _searchFromWord = 0;
            _pendingFrees.Clear();
            _pendingSet.Clear();
        }
    }

    public ulong Allocate()
    {
        lock (_lock)
        {
            var words = _inUse;
            for (var w = _searchFromWord; ; w++)
            {
                if (w >= (ulong)words.Length)
                {
                    words = _inUse = Grow(words, words.Length * 2);
                }

                var word = words[w];
                if (word == ulong.MaxValue)
                {
                    continue;
                }

                var bit = BitOperations.TrailingZeroCount(~word);
                var cluster = (w * 64) + (ulong)bit;
                words[w] = word | (1UL << bit);
                _searchFromWord = w;
                _inUseCount++;
                HighWater = Math.Max(HighWater, cluster + 1);
                _allocatedDuringCollection?.Add(cluster);
                _inFlight.Add(cluster);
                return cluster;
            }
        }
    }

    /// <summary>
    /// Ends the in-flight window of an allocated cluster: the caller has put it in a map (or gave up
    /// on it, leaving it to the collector). Until then no collection may free it, although no map
    /// references it yet.
    /// </summary>
    public void Publish(ulong cluster)
    {
        lock (_lock)
        {
            _inFlight.Remove(cluster);
        }
    }

    /// <summary>Frees <paramref name="cluster"/> once journal sequence <paramref name="sequence"/> is durable.</summary>
    public void FreeAfter(ulong cluster, ulong sequence)
    {
        lock (_lock)
        {
            if (!IsSet(cluster))
            {
                throw new InvalidOperationException($"Cluster {cluster} freed but not in use.");
            }

            if (_pendingSet.Add(cluster))
            {
                _pendingFrees.Enqueue((cluster, sequence));
            }
        }
    }

    /// <summary>Removes and returns (sorted) the pending frees whose sequence is durable. Call MarkFree after punching them.</summary>
    public List<ulong> TakeReleasable(ulong durableSequence)
    {
        var released = new List<ulong>();
        lock (_lock)
        {
            while (_pendingFrees.TryPeek(out var head) && head.Sequence <= durableSequence)
            {
                _ = _pendingFrees.Dequeue();
                released.Add(head.Cluster);
            }
        }

        released.Sort();
        return released;
    }

    public void MarkFree(List<ulong> clusters)
    {
        lock (_lock)
        {
            foreach (var cluster in clusters)
            {
                _inUse[cluster / 64] &= ~(1UL << (int)(cluster % 64));
                _pendingSet.Remove(cluster);
                _inUseCount--;
                _searchFromWord = Math.Min(_searchFromWord, cluster / 64);
            }
        }
    }

    /// <summary>Starts recording allocations, so a collection does not free clusters born after its freeze.</summary>
    public ulong BeginCollection()
    {
        lock (_lock)
        {
            // Clusters allocated but not yet in any map are as good as allocated during the collection.
            _allocatedDuringCollection = [.. _inFlight];
            return HighWater;
        }
    }

    /// <summary>
    /// Ends a collection: every cluster below <paramref name="highWaterAtFreeze"/> in use, not marked,
    /// not already pending and not allocated since the freeze is unreachable and freed after
    /// <paramref name="sequenceAtFreeze"/>. Returns how many were found.
    /// </summary>
    public long EndCollection(ulong[] marked, ulong highWaterAtFreeze, ulong sequenceAtFreeze)
    {
        lock (_lock)
        {
            var allocatedSince = _allocatedDuringCollection!;
            _allocatedDuringCollection = null;
            long found = 0;
            var words = (int)Math.Min((ulong)_inUse.Length, (highWaterAtFreeze + 63) / 64);
            for (var w = 0; w < words; w++)
            {
                var candidates = _inUse[w] & ~(w < marked.Length ? marked[w] : 0);
                while (candidates != 0)
                {
                    var bit = BitOperations.TrailingZeroCount(candidates);
                    candidates &= candidates - 1;
                    var cluster = ((ulong)w * 64) + (ulong)bit;
                    if (cluster >= highWaterAtFreeze || allocatedSince.Contains(cluster) || !_pendingSet.Add(cluster))
                    {
                        continue;
                    }

                    _pendingFrees.Enqueue((cluster, sequenceAtFreeze));
                    found++;
                }
            }

            return found;
        }
    }

    public void AbortCollection()
    {
        lock (_lock)
        {
            _allocatedDuringCollection = null;
        }
    }

    private bool IsSet(ulong cluster) =>
        cluster / 64 < (ulong)_inUse.Length && (_inUse[cluster / 64] & (1UL << (int)(cluster % 64))) != 0;

    private static ulong[] Grow(ulong[] words, int length)
    {
        var grown = new ulong[length];
        Array.Copy(words, grown, words.Length);
        return grown;
    }
}
