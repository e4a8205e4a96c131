// Behaviour of single operations and their error cases, through the public VolumeStore/Volume API.
using Ironclad.Crypto.Keys;

namespace Ironclad.Storage.Tests;

public sealed class VolumeTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void Unwritten_ranges_read_as_zeros_and_report_no_allocation()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, 4 * MiB, context.Key);
        using var volume = context.Store.OpenVolume(id, context.Key);
        var buffer = new byte[MiB];
        Array.Fill(buffer, (byte)0xAA);
        volume.Read(MiB, buffer);
        Assert.True(buffer.AsSpan().IndexOfAnyExcept((byte)0) < 0);
        Assert.Empty(volume.GetAllocatedRanges(0, 4 * MiB));
        Assert.Equal(0, context.Store.Statistics.AllocatedClusters);
    }

    [Fact]
    public void Data_survives_reopen_byte_for_byte_at_unaligned_offsets()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, 4 * MiB, context.Key);
        var data = new byte[300_001];
        new Random(7).NextBytes(data);
        using (var volume = context.Store.OpenVolume(id, context.Key))
        {
            volume.Write(65_530, data);
        }

        context.Reopen();
        using var reopened = context.Store.OpenVolume(id, context.Key);
        var back = new byte[data.Length + 20];
        reopened.Read(65_520, back);
        Assert.True(back.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0);
        StorageTestContext.AssertSameBytes(data, back.AsSpan(10, data.Length), "reopened data");
        Assert.True(back.AsSpan(10 + data.Length).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void A_32_TiB_volume_stores_data_at_both_ends_and_takes_almost_no_space()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        var size = 32L << 40;
        context.Store.CreateVolume(id, size, context.Key);
        using var volume = context.Store.OpenVolume(id, context.Key);
        var first = new byte[4096];
        var last = new byte[4096];
        new Random(1).NextBytes(first);
        new Random(2).NextBytes(last);
        volume.Write(0, first);
        volume.Write(size - 4096, last, WriteOptions.Fua);
        var back = new byte[4096];
        volume.Read(size - 4096, back);
        Assert.Equal(last, back);
        Assert.Equal(
            [new AllocatedRange(0, 4096), new AllocatedRange(size - 4096, 4096)],
            volume.GetAllocatedRanges(0, size));
        Assert.Equal(2, context.Store.Statistics.AllocatedClusters);
        Assert.True(DiskUsage.AllocatedBytes(context.Directory.Path) < 16 * MiB, "sparse volume used real space");
    }

    [Fact]
    public void Opening_with_the_wrong_key_is_refused()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, MiB, context.Key);
        using var other = DataKey.Generate();
        var error = Assert.Throws<StorageException>(() => context.Store.OpenVolume(id, other));
        Assert.Equal(StorageError.WrongKey, error.Error);
    }

    [Fact]
    public void Out_of_range_io_is_refused_and_changes_nothing()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, MiB, context.Key);
        using var volume = context.Store.OpenVolume(id, context.Key);
        Assert.Equal(StorageError.OutOfRange, Assert.Throws<StorageException>(() => volume.Write(MiB - 100, new byte[200])).Error);
        Assert.Equal(StorageError.OutOfRange, Assert.Throws<StorageException>(() => volume.Read(-1, new byte[1])).Error);
        Assert.Equal(StorageError.OutOfRange, Assert.Throws<StorageException>(() => volume.Trim(0, MiB + 1)).Error);
        Assert.Empty(volume.GetAllocatedRanges(0, MiB));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-512)]
    [InlineData(1000)]
    [InlineData((32L << 40) + 512)]
    public void Invalid_sizes_are_refused(long size)
    {
        using var context = new StorageTestContext();
        var error = Assert.Throws<StorageException>(() => context.Store.CreateVolume(Guid.NewGuid(), size, context.Key));
        Assert.True(error.Error is StorageError.OutOfRange or StorageError.InvalidArgument);
        Assert.Empty(context.Store.List());
    }

    [Fact]
    public void Snapshots_are_read_only_and_volumes_cannot_shrink()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        var snapshotId = Guid.NewGuid();
        context.Store.CreateVolume(id, 2 * MiB, context.Key);
        context.Store.CreateSnapshot(id, snapshotId);
        using var snapshot = context.Store.OpenVolume(snapshotId, context.Key);
        Assert.True(snapshot.IsReadOnly);
        Assert.Equal(StorageError.ReadOnly, Assert.Throws<StorageException>(() => snapshot.Write(0, new byte[512])).Error);
        Assert.Equal(StorageError.ReadOnly, Assert.Throws<StorageException>(() => snapshot.Trim(0, 4096)).Error);
        Assert.Equal(StorageError.InvalidArgument, Assert.Throws<StorageException>(() => context.Store.Resize(id, MiB)).Error);
        Assert.Equal(StorageError.InvalidArgument, Assert.Throws<StorageException>(() => context.Store.CreateSnapshot(snapshotId, Guid.NewGuid())).Error);
        Assert.Equal(StorageError.AlreadyExists, Assert.Throws<StorageException>(() => context.Store.CreateSnapshot(id, snapshotId)).Error);
    }

    [Fact]
    public void An_open_volume_cannot_be_deleted_and_a_deleted_one_is_gone_after_reopen()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, MiB, context.Key);
        var volume = context.Store.OpenVolume(id, context.Key);
        Assert.Equal(StorageError.InUse, Assert.Throws<StorageException>(() => context.Store.Delete(id)).Error);
        volume.Dispose();
        context.Store.Delete(id);
        context.Reopen();
        Assert.Null(context.Store.Find(id));
        Assert.Equal(StorageError.NotFound, Assert.Throws<StorageException>(() => context.Store.OpenVolume(id, context.Key)).Error);
    }

    [Fact]
    public void A_second_process_cannot_open_the_same_store()
    {
        using var context = new StorageTestContext();
        var error = Assert.Throws<StorageException>(() => VolumeStore.Open(context.Directory.Path));
        Assert.Equal(StorageError.InUse, error.Error);
    }

    [Fact]
    public void Growing_keeps_data_and_new_space_reads_as_zeros()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, MiB, context.Key);
        using var volume = context.Store.OpenVolume(id, context.Key);
        var data = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();
        volume.Write(MiB - 4096, data);
        context.Store.Resize(id, 3 * MiB);
        Assert.Equal(3 * MiB, volume.SizeBytes);
        var back = new byte[8192];
        volume.Read(MiB - 4096, back);
        Assert.Equal(data, back[..4096]);
        Assert.True(back.AsSpan(4096).IndexOfAnyExcept((byte)0) < 0);
        volume.Write(3 * MiB - 512, new byte[512]);
    }

    [Fact]
    public void Trim_frees_whole_clusters_and_write_zeroes_zeroes_partial_units()
    {
        using var context = new StorageTestContext();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, 4 * MiB, context.Key);
        using var volume = context.Store.OpenVolume(id, context.Key);
        var ones = new byte[2 * MiB];
        Array.Fill(ones, (byte)1);
        volume.Write(0, ones, WriteOptions.Fua);
        Assert.Equal(32, context.Store.Statistics.AllocatedClusters);

        volume.Trim(0, MiB, WriteOptions.Fua);
        Assert.Equal(16, context.Store.Statistics.AllocatedClusters);

        volume.WriteZeroes(MiB + 100, 5000);
        var back = new byte[6000];
        volume.Read(MiB, back);
        Assert.True(back.AsSpan(0, 100).SequenceEqual(ones.AsSpan(0, 100)));
        Assert.True(back.AsSpan(100, 5000).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(back.AsSpan(5100).SequenceEqual(ones.AsSpan(0, 900)));
    }
}
