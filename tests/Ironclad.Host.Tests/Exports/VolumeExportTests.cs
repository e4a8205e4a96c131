// VolumeExport against a real VolumeStore in a temporary directory: the data path, zeroing and
// trimming, base:allocation extents (checked against what the bytes read back), and the errno each
// storage failure reaches an NBD client with.
using Ironclad.Crypto.Keys;
using Ironclad.Host.Exports;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;
using Ironclad.Testing;

namespace Ironclad.Host.Tests.Exports;

public sealed class VolumeExportTests : IDisposable
{
    private const int UnitBytes = 4096;
    private const int ClusterBytes = 64 * 1024;
    private const long VolumeBytes = 16L << 20;
    private const uint HoleAndZero = NbdExtent.Hole | NbdExtent.Zero;

    private readonly TempDirectory _temporary = new("ironclad-volume-export");
    private readonly VolumeStore _store;
    private readonly DataKey _key = DataKey.Generate();
    private readonly Guid _volumeId = Guid.NewGuid();

    public VolumeExportTests()
    {
        _store = VolumeStore.Open(_temporary.Combine("volumes"));
        _store.CreateVolume(_volumeId, VolumeBytes, _key);
    }

    public void Dispose()
    {
        _store.Dispose();
        _key.Dispose();
        _temporary.Dispose();
    }

    [Fact]
    public void Shape_is_the_volume_s_and_multi_connect_is_advertised()
    {
        using var export = Open();

        Assert.Equal(VolumeBytes, export.SizeBytes);
        Assert.False(export.IsReadOnly);
        Assert.True(export.CanMultiConnect);
    }

    [Fact]
    public void Read_returns_what_was_written_and_zeros_elsewhere()
    {
        using var export = Open();
        var data = Pattern(3 * UnitBytes + 123, seed: 1);

        export.Write(ClusterBytes - 1000, data, fua: false);

        var read = new byte[data.Length + 2000];
        export.Read(ClusterBytes - 2000, read);
        Assert.All(read[..1000], b => Assert.Equal(0, b));
        Assert.Equal(data, read[1000..^1000]);
        Assert.All(read[^1000..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Writes_on_one_connection_are_read_on_another_after_either_flushes()
    {
        using var first = Open();
        using var second = Open();
        var data = Pattern(UnitBytes, seed: 2);

        first.Write(0, data, fua: true);
        second.Flush();

        var read = new byte[UnitBytes];
        second.Read(0, read);
        Assert.Equal(data, read);
    }

    [Fact]
    public void Data_survives_closing_the_export_and_reopening_the_store()
    {
        var data = Pattern(2 * UnitBytes, seed: 3);
        using (var export = Open())
        {
            export.Write(5 * ClusterBytes, data, fua: false);
        }

        _store.Dispose();
        using var reopened = VolumeStore.Open(_temporary.Combine("volumes"));
        using var again = new VolumeExport(reopened.OpenVolume(_volumeId, _key));
        var read = new byte[data.Length];
        again.Read(5 * ClusterBytes, read);
        Assert.Equal(data, read);
    }

    [Fact]
    public void Trim_unmaps_whole_units_which_then_read_as_zeros_and_report_a_hole()
    {
        using var export = Open();
        export.Write(0, Pattern(4 * UnitBytes, seed: 4), fua: false);

        export.Trim(UnitBytes, 2 * UnitBytes, fua: true);

        var read = new byte[4 * UnitBytes];
        export.Read(0, read);
        Assert.Contains(read[..UnitBytes], b => b != 0);
        Assert.All(read[UnitBytes..(3 * UnitBytes)], b => Assert.Equal(0, b));
        Assert.Contains(read[(3 * UnitBytes)..], b => b != 0);
        Assert.Equal(
            [new(UnitBytes, 0), new(2 * UnitBytes, HoleAndZero), new(UnitBytes, 0)],
            Allocation(export, 0, 4 * UnitBytes));
    }

    [Fact]
    public void Write_zeroes_without_no_hole_is_fast_and_leaves_a_hole()
    {
        using var export = Open();
        export.Write(0, Pattern(ClusterBytes, seed: 5), fua: false);

        Assert.True(export.IsZeroingFast(noHole: false));
        export.WriteZeroes(100, ClusterBytes - 200, fua: false, noHole: false);

        var read = new byte[ClusterBytes];
        export.Read(0, read);
        Assert.Contains(read[..100], b => b != 0);
        Assert.All(read[100..^100], b => Assert.Equal(0, b));
        Assert.Contains(read[^100..], b => b != 0);
        var extents = Allocation(export, 0, ClusterBytes);
        Assert.Contains(extents, e => e.State == HoleAndZero);
    }

    [Fact]
    public void Write_zeroes_with_no_hole_is_not_fast_and_keeps_the_range_allocated()
    {
        using var export = Open();

        Assert.False(export.IsZeroingFast(noHole: true));
        export.WriteZeroes(ClusterBytes, 2 * ClusterBytes, fua: true, noHole: true);

        var read = new byte[2 * ClusterBytes];
        export.Read(ClusterBytes, read);
        Assert.All(read, b => Assert.Equal(0, b));
        Assert.Equal([new(2 * ClusterBytes, 0)], Allocation(export, ClusterBytes, 2 * ClusterBytes));
    }

    [Fact]
    public void An_empty_volume_is_one_hole_extent_covering_the_request()
    {
        using var export = Open();

        Assert.Equal([new(VolumeBytes, HoleAndZero)], Allocation(export, 0, VolumeBytes));
        Assert.Equal([new(12345, HoleAndZero)], Allocation(export, 777, 12345));
    }

    [Fact]
    public void Extents_alternate_data_and_holes_and_end_exactly_at_the_request_end()
    {
        using var export = Open();
        export.Write(ClusterBytes, Pattern(2 * UnitBytes, seed: 9), fua: false);
        export.Write(1L << 20, Pattern(UnitBytes, seed: 6), fua: false);

        Assert.Equal(
            [
                new(ClusterBytes, HoleAndZero),
                new(2 * UnitBytes, 0),
                new((1L << 20) - ClusterBytes - (2 * UnitBytes), HoleAndZero),
                new(UnitBytes, 0),
                new((2L << 20) - (1L << 20) - UnitBytes, HoleAndZero),
            ],
            Allocation(export, 0, 2L << 20));
    }

    [Fact]
    public void Extents_are_clipped_to_a_request_that_starts_and_ends_inside_data()
    {
        using var export = Open();
        export.Write(0, Pattern(ClusterBytes, seed: 7), fua: false);

        Assert.Equal([new(1000, 0)], Allocation(export, 100, 1000));
    }

    [Fact]
    public void Fewer_slots_than_extents_stop_short_of_the_end_without_guessing()
    {
        using var export = Open();
        for (var i = 0; i < 8; i++)
        {
            export.Write((2L * i + 1) * ClusterBytes, Pattern(UnitBytes, seed: 10 + i), fua: false);
        }

        Span<NbdExtent> two = stackalloc NbdExtent[2];
        Assert.Equal(2, export.GetAllocation(0, 16L * ClusterBytes, two));
        Assert.Equal(new NbdExtent(ClusterBytes, HoleAndZero), two[0]);
        Assert.Equal(new NbdExtent(UnitBytes, 0), two[1]);

        Span<NbdExtent> three = stackalloc NbdExtent[3];
        Assert.Equal(3, export.GetAllocation(0, 16L * ClusterBytes, three));
        Assert.Equal(new NbdExtent((2L * ClusterBytes) - UnitBytes, HoleAndZero), three[2]);

        Span<NbdExtent> one = stackalloc NbdExtent[1];
        Assert.Equal(1, export.GetAllocation(ClusterBytes + 10, 16L * ClusterBytes, one));
        Assert.Equal(new NbdExtent(UnitBytes - 10, 0), one[0]);
    }

    [Fact]
    public void Random_extents_are_contiguous_within_the_request_and_agree_with_the_data()
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        using var export = Open();
        const long spanBytes = 4L << 20;
        for (var i = 0; i < 60; i++)
        {
            var offset = random.NextInt64(0, spanBytes - (2 * ClusterBytes));
            var length = random.Next(1, 2 * ClusterBytes);
            switch (random.Next(4))
            {
                case 0:
                    export.Trim(offset, length, fua: false);
                    break;
                case 1:
                    export.WriteZeroes(offset, length, fua: false, noHole: random.Next(2) == 0);
                    break;
                default:
                    export.Write(offset, Pattern(length, seed: random.Next()), fua: false);
                    break;
            }
        }

        var contents = new byte[spanBytes];
        export.Read(0, contents);
        for (var i = 0; i < 200; i++)
        {
            var offset = random.NextInt64(0, spanBytes - 1);
            var length = random.NextInt64(1, spanBytes - offset + 1);
            var extents = new NbdExtent[random.Next(1, 12)];
            var count = export.GetAllocation(offset, length, extents);

            Assert.InRange(count, 1, extents.Length);
            var position = offset;
            foreach (var extent in extents.AsSpan(0, count))
            {
                Assert.True(extent.LengthBytes > 0, $"seed={seed}: empty extent at {position}");
                Assert.True(extent.State is 0 or HoleAndZero, $"seed={seed}: state {extent.State}");
                if (extent.State == HoleAndZero)
                {
                    Assert.True(
                        contents.AsSpan((int)position, (int)extent.LengthBytes).IndexOfAnyExcept((byte)0) < 0,
                        $"seed={seed}: hole [{position}, +{extent.LengthBytes}) holds data");
                }

                position += extent.LengthBytes;
            }

            Assert.True(position <= offset + length, $"seed={seed}: extents run past the request end");
            if (count < extents.Length)
            {
                Assert.Equal(offset + length, position);
            }
        }
    }

    [Fact]
    public void A_snapshot_is_read_only_and_refuses_changes_with_EPERM()
    {
        using (var export = Open())
        {
            export.Write(0, Pattern(UnitBytes, seed: 8), fua: true);
        }

        var snapshotId = Guid.NewGuid();
        _store.CreateSnapshot(_volumeId, snapshotId);
        using var snapshot = new VolumeExport(_store.OpenVolume(snapshotId, _key));

        Assert.True(snapshot.IsReadOnly);
        var read = new byte[UnitBytes];
        snapshot.Read(0, read);
        Assert.Equal(Pattern(UnitBytes, seed: 8), read);
        AssertErrno(NbdErrno.EPERM, () => snapshot.Write(0, new byte[UnitBytes], fua: false));
        AssertErrno(NbdErrno.EPERM, () => snapshot.Trim(0, UnitBytes, fua: false));
        AssertErrno(NbdErrno.EPERM, () => snapshot.WriteZeroes(0, UnitBytes, fua: false, noHole: false));
        AssertErrno(NbdErrno.EPERM, () => snapshot.WriteZeroes(0, UnitBytes, fua: false, noHole: true));
    }

    [Fact]
    public void Writes_past_the_end_are_ENOSPC_and_reads_and_trims_past_it_are_EINVAL()
    {
        using var export = Open();

        AssertErrno(NbdErrno.ENOSPC, () => export.Write(VolumeBytes - 10, new byte[20], fua: false));
        AssertErrno(NbdErrno.ENOSPC, () => export.WriteZeroes(VolumeBytes, UnitBytes, fua: false, noHole: true));
        AssertErrno(NbdErrno.ENOSPC, () => export.WriteZeroes(VolumeBytes, UnitBytes, fua: false, noHole: false));
        AssertErrno(NbdErrno.EINVAL, () => export.Read(VolumeBytes - 10, new byte[20]));
        AssertErrno(NbdErrno.EINVAL, () => export.Trim(VolumeBytes, UnitBytes, fua: false));
        AssertErrno(NbdErrno.EINVAL, () => export.GetAllocation(VolumeBytes, UnitBytes, new NbdExtent[4]));
    }

    [Fact]
    public void Requests_after_the_store_closed_are_ESHUTDOWN()
    {
        var export = Open();
        _store.Dispose();

        AssertErrno(NbdErrno.ESHUTDOWN, () => export.Read(0, new byte[UnitBytes]));
        AssertErrno(NbdErrno.ESHUTDOWN, () => export.Write(0, new byte[UnitBytes], fua: false));
        AssertErrno(NbdErrno.ESHUTDOWN, export.Flush);
    }

    [Fact]
    public void Requests_after_the_export_was_disposed_are_ESHUTDOWN()
    {
        var export = Open();
        export.Dispose();

        AssertErrno(NbdErrno.ESHUTDOWN, () => export.Read(0, new byte[UnitBytes]));
        AssertErrno(NbdErrno.ESHUTDOWN, () => export.Write(0, new byte[UnitBytes], fua: false));
        AssertErrno(NbdErrno.ESHUTDOWN, export.Flush);
        AssertErrno(NbdErrno.ESHUTDOWN, () => export.GetAllocation(0, UnitBytes, new NbdExtent[1]));
    }

    [Fact]
    public void Error_messages_carry_neither_data_nor_the_storage_engine_s_text()
    {
        using var export = Open();
        var data = new byte[20];
        "SECRET-PLAINTEXT-20B"u8.CopyTo(data);

        var error = Assert.Throws<NbdExportException>(() => export.Write(VolumeBytes - 10, data, fua: false));

        Assert.DoesNotContain("SECRET", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_volumeId.ToString(), error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("OutOfRange", error.Message, StringComparison.Ordinal);
        Assert.IsType<StorageException>(error.InnerException);
    }

    [Theory]
    [InlineData(StorageError.ReadOnly, "Write", NbdErrno.EPERM)]
    [InlineData(StorageError.ReadOnly, "Trim", NbdErrno.EPERM)]
    [InlineData(StorageError.OutOfRange, "Read", NbdErrno.EINVAL)]
    [InlineData(StorageError.OutOfRange, "Trim", NbdErrno.EINVAL)]
    [InlineData(StorageError.OutOfRange, "BlockStatus", NbdErrno.EINVAL)]
    [InlineData(StorageError.OutOfRange, "Write", NbdErrno.ENOSPC)]
    [InlineData(StorageError.OutOfRange, "WriteZeroes", NbdErrno.ENOSPC)]
    [InlineData(StorageError.InvalidArgument, "Write", NbdErrno.EINVAL)]
    [InlineData(StorageError.Closed, "Read", NbdErrno.ESHUTDOWN)]
    [InlineData(StorageError.Closed, "Flush", NbdErrno.ESHUTDOWN)]
    [InlineData(StorageError.Corrupt, "Read", NbdErrno.EIO)]
    [InlineData(StorageError.WrongKey, "Read", NbdErrno.EIO)]
    [InlineData(StorageError.NotFound, "Read", NbdErrno.EIO)]
    [InlineData(StorageError.AlreadyExists, "Write", NbdErrno.EIO)]
    [InlineData(StorageError.InUse, "Write", NbdErrno.EIO)]
    public void Each_storage_error_maps_to_one_errno(StorageError error, string operation, NbdErrno expected) =>
        Assert.Equal(expected, StorageErrnos.ToErrno(error, Enum.Parse<ExportOperation>(operation)));

    [Fact]
    public void Every_storage_error_has_a_mapping_that_is_a_documented_nbd_errno()
    {
        NbdErrno[] allowed = [NbdErrno.EIO, NbdErrno.EPERM, NbdErrno.ENOSPC, NbdErrno.EINVAL, NbdErrno.ESHUTDOWN];
        foreach (var error in Enum.GetValues<StorageError>())
        {
            foreach (var operation in Enum.GetValues<ExportOperation>())
            {
                Assert.Contains(StorageErrnos.ToErrno(error, operation), allowed);
            }
        }
    }

    private VolumeExport Open() => new(_store.OpenVolume(_volumeId, _key));

    private static NbdExtent[] Allocation(VolumeExport export, long offsetBytes, long lengthBytes)
    {
        var extents = new NbdExtent[64];
        var count = export.GetAllocation(offsetBytes, lengthBytes, extents);
        return extents[..count];
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        // Never all zero in a unit: a test that expects data must not be fooled by a zero pattern.
        for (var i = 0; i < length; i += 512)
        {
            bytes[i] |= 1;
        }

        return bytes;
    }

    private static void AssertErrno(NbdErrno expected, Action action)
    {
        var error = Assert.Throws<NbdExportException>(action);
        Assert.Equal(expected, error.Errno);
    }
}
