// Constants of on-disk format version 1 (docs/on-disk-format.md). Values that reach disk are
// frozen: tests in Ironclad.Storage.Tests/Format pin them, and they may only be appended to.
namespace Ironclad.Storage.Format;

internal static class Layout
{
    public const uint FormatVersion = 1;

    public const int ClusterSizeLog2 = 16;
    public const int ClusterSizeBytes = 1 << ClusterSizeLog2;          // 64 KiB
    public const int UnitSizeLog2 = 12;
    public const int UnitSizeBytes = 1 << UnitSizeLog2;                // 4 KiB = one XTS data unit
    public const int UnitsPerCluster = ClusterSizeBytes / UnitSizeBytes; // 16: one bit each in MapEntry
    public const int SectorSizeBytes = 512;                             // logical sector: sizes are multiples of it

    public const int SegmentClustersLog2 = 24;                          // 2^24 clusters = 1 TiB per data file
    public const long SegmentClusters = 1L << SegmentClustersLog2;

    public const long MaxVolumeSizeBytes = 32L << 40;                    // 32 TiB
    public const int MapFanoutLog2 = 10;                                // 1024 slots per map node
    public const int MapFanout = 1 << MapFanoutLog2;
    public const int MapLevels = 3;                                     // 2^30 clusters = 64 TiB addressable

    public const int PhysicalClusterBits = 40;                          // 2^40 clusters = 64 PiB per store

    public static ReadOnlySpan<byte> StoreMagic => "IRCLDSTO"u8;
    public static ReadOnlySpan<byte> JournalMagic => "IRCLDJNL"u8;
    public static ReadOnlySpan<byte> CheckpointMagic => "IRCLDCKP"u8;

    public const string HeaderFileName = "store.hdr";
    public const string LockFileName = "lock";
    public const string DataDirectoryName = "data";
    public const string MetaDirectoryName = "meta";
    public const string CheckpointFileName = "checkpoint";

    public static string SegmentFileName(long segment) => $"clusters-{segment:D6}.dat";

    public static string JournalFileName(ulong generation) => $"journal-{generation:D12}.log";
}
