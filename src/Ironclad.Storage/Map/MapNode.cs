// A node of a volume's cluster map: a three-level radix tree (1024 slots per node) whose nodes are
// shared between a volume, its snapshots and clones, and copied on the first write after sharing.
// Invariant: a node whose Generation is at or below the owner's frozen-through mark is never mutated.
using Ironclad.Storage.Format;

namespace Ironclad.Storage.Map;

internal sealed class MapNode
{
    private MapNode(int level, long generation, MapNode?[]? children, MapEntry[]? entries, int count)
    {
        Level = level;
        Generation = generation;
        Children = children;
        Entries = entries;
        Count = count;
    }

    /// <summary>0 for a leaf (holds entries), 1 and 2 for interior nodes (hold children).</summary>
    public int Level { get; }

    /// <summary>In-memory only: the node generation it was created in (see ClusterMap).</summary>
    public long Generation { get; }

    public MapNode?[]? Children { get; }

    public MapEntry[]? Entries { get; }

    /// <summary>Number of non-empty slots.</summary>
    public int Count { get; set; }

    public bool IsLeaf => Level == 0;

    public static MapNode Create(int level, long generation) =>
        level == 0
            ? new MapNode(0, generation, null, new MapEntry[Layout.MapFanout], 0)
            : new MapNode(level, generation, new MapNode?[Layout.MapFanout], null, 0);

    public MapNode CopyAs(long generation) =>
        IsLeaf
            ? new MapNode(0, generation, null, (MapEntry[])Entries!.Clone(), Count)
            : new MapNode(Level, generation, (MapNode?[])Children!.Clone(), null, Count);
}
