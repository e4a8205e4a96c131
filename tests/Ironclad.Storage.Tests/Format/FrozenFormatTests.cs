// Pins on-disk format version 1 byte for byte (docs/on-disk-format.md). These tests may only be
// appended to: if one fails, the change broke every existing store; bump Layout.FormatVersion and
// write a migration instead of editing the expected bytes. The CRCs were cross-checked with an
// independent bitwise CRC-32C (polynomial 0x82F63B78) in Python.
using System.Text;
using Ironclad.Storage.Checkpoints;
using Ironclad.Storage.Format;
using Ironclad.Storage.Journal;
using Ironclad.Storage.Map;
using Ironclad.Testing;

namespace Ironclad.Storage.Tests.Format;

public sealed class FrozenFormatTests
{
    private static readonly Guid FixedId = new("00112233-4455-6677-8899-aabbccddeeff");

    [Fact]
    public void Geometry_constants_are_frozen()
    {
        Assert.Equal(1u, Layout.FormatVersion);
        Assert.Equal(65536, Layout.ClusterSizeBytes);
        Assert.Equal(4096, Layout.UnitSizeBytes);
        Assert.Equal(16, Layout.UnitsPerCluster);
        Assert.Equal(1L << 24, Layout.SegmentClusters);
        Assert.Equal(1024, Layout.MapFanout);
        Assert.Equal(3, Layout.MapLevels);
        Assert.Equal(40, Layout.PhysicalClusterBits);
        Assert.Equal(32L << 40, Layout.MaxVolumeSizeBytes);
        Assert.Equal("clusters-000012.dat", Layout.SegmentFileName(12));
        Assert.Equal("journal-000000000007.log", Layout.JournalFileName(7));
    }

    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        // RFC 3720 B.4 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        var state = Crc32C.Append(Crc32C.Start, "1234"u8);
        Assert.Equal(0xE3069283u, Crc32C.Finish(Crc32C.Append(state, "56789"u8)));
    }

    [Fact]
    public void Store_header_layout_is_frozen()
    {
        Assert.Equal(
            "4952434C4453544F" + "01000000" + "10" + "0C" + "18" + "0A" + "3322110055447766" + "8899AABBCCDDEEFF" + new string('0', 56) + "20E9D6AE",
            Convert.ToHexString(StoreHeader.Encode(FixedId)));
        Assert.Equal(FixedId, StoreHeader.Decode(StoreHeader.Encode(FixedId)));
    }

    [Fact]
    public void Journal_record_tags_are_frozen()
    {
        Assert.Equal(
            [(RecordType)1, (RecordType)2, (RecordType)3, (RecordType)4, (RecordType)5, (RecordType)6, (RecordType)7],
            [RecordType.CreateVolume, RecordType.CreateSnapshot, RecordType.CreateClone, RecordType.Delete, RecordType.Resize, RecordType.SetEntry, RecordType.ClearRange]);
    }

    [Fact]
    public void A_framed_set_entry_record_is_frozen()
    {
        var payload = new PayloadWriter(new byte[64]);
        payload.U32(3);                 // ordinal
        payload.U32(0x01020304);        // virtual cluster
        var entry = MapEntry.Create(0x123456789A, 0xBEEF, 42);
        payload.U64(entry.Word);
        payload.U64(entry.Birth);
        var frame = new byte[64];
        var length = JournalFrame.Write(frame, 77, RecordType.SetEntry, payload.Written);
        Assert.Equal(
            "18000000" + "364D8AF4" + "4D00000000000000" + "06" + "03000000" + "04030201" + "9A78563412EFBE00" + "2A00000000000000",
            Convert.ToHexString(frame.AsSpan(0, length)));
        Assert.True(JournalFrame.TryRead(frame.AsSpan(0, length), out var sequence, out var type, out var read, out _));
        Assert.Equal((77ul, RecordType.SetEntry), (sequence, type));
        Assert.Equal(payload.Written.ToArray(), read.ToArray());
    }

    [Fact]
    public void A_torn_or_flipped_record_is_rejected()
    {
        var frame = new byte[64];
        var length = JournalFrame.Write(frame, 1, RecordType.Delete, [1, 0, 0, 0]);
        Assert.False(JournalFrame.TryRead(frame.AsSpan(0, length - 1), out _, out _, out _, out _));
        for (var bit = 0; bit < length * 8; bit++)
        {
            var flipped = frame[..length];
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(JournalFrame.TryRead(flipped, out _, out _, out _, out _), $"bit {bit} flip was not detected");
        }
    }

    [Fact]
    public void Map_entry_layout_is_frozen()
    {
        var entry = MapEntry.Create(physicalCluster: 0x123456789A, validUnits: 0x8001, birth: 9);
        Assert.Equal(0x0080_0112_3456_789Aul, entry.Word);
        Assert.Equal(0x123456789Aul, entry.PhysicalCluster);
        Assert.Equal(0x8001, entry.ValidUnits);
        Assert.Equal(MapEntry.Empty, MapEntry.Create(5, 0, 9));
    }

    [Fact]
    public void Journal_segment_header_is_frozen()
    {
        var header = new byte[JournalSegment.HeaderBytes];
        JournalSegment.WriteHeader(header, 5);
        Assert.Equal(
            "4952434C444A4E4C" + "01000000" + "40000000" + "0500000000000000" + new string('0', 72) + "A223D3AB",
            Convert.ToHexString(header));
    }

    [Fact]
    public void Checkpoint_file_layout_is_frozen()
    {
        using var directory = new TempDirectory();
        var leaf = MapNode.Create(0, 0);
        leaf.Entries![5] = MapEntry.Create(7, 0x0003, 2);
        leaf.Count = 1;
        var middle = MapNode.Create(1, 0);
        middle.Children![0] = leaf;
        middle.Count = 1;
        var root = MapNode.Create(2, 0);
        root.Children![0] = middle;
        root.Count = 1;
        var keyCheck = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var image = new CheckpointImage(4, 99, 3, 2, [new VolumeImage(1, FixedId, VolumeKind.Volume, 1 << 20, 1, null, keyCheck, root)]);
        CheckpointFile.Write(directory.Path, image);
        var bytes = File.ReadAllBytes(directory.Combine("checkpoint"));
        var expected = new StringBuilder()
            .Append("4952434C44434B50" + "01000000" + "40000000" + "0400000000000000" + "6300000000000000" + "0300000000000000")
            .Append("02000000" + "01000000" + "03000000" + new string('0', 16) + "FC1A4BFB")
            .Append("00" + "0100" + "0500" + "0700000000030000" + "0200000000000000")   // leaf: slot 5
            .Append("01" + "0100" + "0000" + "00000000")                                 // middle: slot 0 -> node 0
            .Append("02" + "0100" + "0000" + "01000000")                                 // root: slot 0 -> node 1
            .Append("01000000" + "3322110055447766" + "8899AABBCCDDEEFF" + "00" + "0000100000000000" + "0100000000000000")
            .Append("00" + new string('0', 32) + Convert.ToHexString(keyCheck) + "03000000")
            .Append("C9D0EDF3")
            .ToString();
        Assert.Equal(expected, Convert.ToHexString(bytes));

        var read = CheckpointFile.Read(directory.Path)!;
        Assert.Equal((4ul, 99ul, 3ul, 2u), (read.JournalGeneration, read.LastSequence, read.ClusterEpoch, read.NextOrdinal));
        var volume = Assert.Single(read.Volumes);
        Assert.Equal(MapEntry.Create(7, 0x0003, 2), ClusterMap.Get(volume.Root, 5));
    }
}
