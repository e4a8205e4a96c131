// Operations on the persistent cluster-map tree: lookup, copy-on-write update, range clearing and
// ordered traversal. Sharing is the point: a snapshot is a second reference to the same root, so
// taking one is O(1); whoever writes next copies only the path it changes (<= 3 nodes).
// Invariant: nodes with Generation <= frozenThrough are never modified, only copied.
using Ironclad.Storage.Format;

namespace Ironclad.Storage.Map;

internal interface IMapVisitor
{
    /// <summary>Called for each allocated entry in ascending virtual-cluster order; return false to stop.</summary>
    bool Visit(uint virtualCluster, in MapEntry entry);
}

internal static class ClusterMap
{
    public const int RootLevel = Layout.MapLevels - 1;

    public static MapEntry Get(MapNode? root, uint virtualCluster)
    {
        var node = root;
        for (var level = RootLevel; node is not null; level--)
        {
            var slot = Slot(virtualCluster, level);
            if (level == 0)
            {
                return node.Entries![slot];
            }

            node = node.Children![slot];
        }

        return MapEntry.Empty;
    }

    /// <summary>Sets one entry and returns the (possibly new) root. Empty entries remove slots and prune empty nodes.</summary>
    public static MapNode? Set(MapNode? root, uint virtualCluster, MapEntry entry, long frozenThrough, long generation) =>
        SetIn(root, RootLevel, virtualCluster, entry, frozenThrough, generation);

    private static MapNode? SetIn(MapNode? node, int level, uint virtualCluster, MapEntry entry, long frozenThrough, long generation)
    {
        if (node is null)
        {
            if (!entry.IsAllocated)
            {
                return null;
            }

            node = MapNode.Create(level, generation);
        }
        else if (node.Generation <= frozenThrough)
        {
            node = node.CopyAs(generation);
        }

        var slot = Slot(virtualCluster, level);
        if (level == 0)
        {
            var wasAllocated = node.Entries![slot].IsAllocated;
            node.Entries[slot] = entry;
            node.Count += (entry.IsAllocated ? 1 : 0) - (wasAllocated ? 1 : 0);
        }
        else
        {
            var before = node.Children![slot];
            var after = SetIn(before, level - 1, virtualCluster, entry, frozenThrough, generation);
            node.Children[slot] = after;
            node.Count += (after is null ? 0 : 1) - (before is null ? 0 : 1);
        }

        return node.Count == 0 ? null : node;
    }

    /// <summary>
    /// Clears every allocated entry in [first, first+count), reporting each to <paramref name="visitor"/>
    /// before it is cleared, and returns the new root.
    /// </summary>
    public static MapNode? ClearRange<TVisitor>(MapNode? root, uint first, uint count, long frozenThrough, long generation, ref TVisitor visitor)
        where TVisitor : struct, IMapVisitor
    {
        if (count == 0)
        {
            return root;
        }

        return ClearIn(root, RootLevel, 0, first, (ulong)first + count, frozenThrough, generation, ref visitor);
    }

    private static MapNode? ClearIn<TVisitor>(MapNode? node, int level, ulong nodeBase, ulong first, ulong end, long frozenThrough, long generation, ref TVisitor visitor)
        where TVisitor : struct, IMapVisitor
    {
        if (node is null)
        {
            return null;
        }

        var span = SlotSpan(level);
        var firstSlot = (int)((Math.Max(first, nodeBase) - nodeBase) / span);
        var lastSlot = (int)Math.Min(Layout.MapFanout - 1, (end - 1 - nodeBase) / span);
        MapNode? writable = null;
        for (var slot = firstSlot; slot <= lastSlot; slot++)
        {
            if (level == 0)
            {
                var entry = node.Entries![slot];
                if (!entry.IsAllocated)
                {
                    continue;
                }

                visitor.Visit((uint)(nodeBase + (ulong)slot), entry);
                writable ??= node.Generation <= frozenThrough ? node.CopyAs(generation) : node;
                writable.Entries![slot] = MapEntry.Empty;
                writable.Count--;
            }
            else
            {
                var child = node.Children![slot];
                if (child is null)
                {
                    continue;
                }

                var childBase = nodeBase + ((ulong)slot * span);
                var after = ClearIn(child, level - 1, childBase, first, end, frozenThrough, generation, ref visitor);
                if (ReferenceEquals(after, child))
                {
                    continue;
                }

                writable ??= node.Generation <= frozenThrough ? node.CopyAs(generation) : node;
                writable.Children![slot] = after;
                if (after is null)
                {
                    writable.Count--;
                }
            }
        }

        if (writable is null)
        {
            return node;
        }

        return writable.Count == 0 ? null : writable;
    }

    /// <summary>Visits allocated entries in [first, first+count) in ascending order.</summary>
    public static void ForEach<TVisitor>(MapNode? root, uint first, ulong count, ref TVisitor visitor)
        where TVisitor : struct, IMapVisitor
    {
        if (count == 0)
        {
            return;
        }

        _ = ForEachIn(root, RootLevel, 0, first, first + count, ref visitor);
    }

    private static bool ForEachIn<TVisitor>(MapNode? node, int level, ulong nodeBase, ulong first, ulong end, ref TVisitor visitor)
        where TVisitor : struct, IMapVisitor
    {
        if (node is null || end <= nodeBase)
        {
            return true;
        }

        var span = SlotSpan(level);
        if (first >= nodeBase + (span * Layout.MapFanout))
        {
            return true;
        }

        var firstSlot = (int)((Math.Max(first, nodeBase) - nodeBase) / span);
        var lastSlot = (int)Math.Min(Layout.MapFanout - 1, (end - 1 - nodeBase) / span);
        for (var slot = firstSlot; slot <= lastSlot; slot++)
        {
            if (level == 0)
            {
                var entry = node.Entries![slot];
                if (entry.IsAllocated && !visitor.Visit((uint)(nodeBase + (ulong)slot), entry))
                {
                    return false;
                }
            }
            else if (!ForEachIn(node.Children![slot], level - 1, nodeBase + ((ulong)slot * span), first, end, ref visitor))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Visits every node reachable from <paramref name="root"/> that is not yet in <paramref name="visited"/>, children before parents.</summary>
    public static void ForEachNodePostOrder(MapNode? root, HashSet<MapNode> visited, Action<MapNode> action)
    {
        if (root is null || !visited.Add(root))
        {
            return;
        }

        if (!root.IsLeaf)
        {
            foreach (var child in root.Children!)
            {
                ForEachNodePostOrder(child, visited, action);
            }
        }

        action(root);
    }

    private static int Slot(uint virtualCluster, int level) =>
        (int)(virtualCluster >> (level * Layout.MapFanoutLog2)) & (Layout.MapFanout - 1);

    private static ulong SlotSpan(int level) => 1UL << (level * Layout.MapFanoutLog2);
}
