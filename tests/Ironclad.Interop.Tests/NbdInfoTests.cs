// nbdinfo (libnbd) against the real `ironclad dev serve-scratch` process: what the handshake
// advertises, and base:allocation as `nbdinfo --map` shows it after writes, discards and zeroing.
using System.Globalization;
using System.Text.Json;
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class NbdInfoTests
{
    private const long KiB = 1024;
    private const long MiB = 1024 * KiB;

    [Fact]
    public async Task Nbdinfo_reports_the_size_block_sizes_and_capabilities_of_a_volume_export()
    {
        NbdClients.Require(NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        await using var scratch = await Scratch.StartAsync(temporary.Combine("data"), cancellationToken: cancellationToken);

        var info = await NbdClients.NbdInfoExportJsonAsync(Scratch.Endpoint(scratch), cancellationToken);
        var text = info.ToString();
        Assert.Equal("scratch", info.GetProperty("export-name").GetString());
        Assert.Equal(Scratch.SizeBytes, info.GetProperty("export-size").GetInt64());
        Assert.Equal(512, info.GetProperty("block_size_minimum").GetInt64());
        Assert.Equal(4096, info.GetProperty("block_size_preferred").GetInt64());
        Assert.Equal(32 * MiB, info.GetProperty("block_size_maximum").GetInt64());
        foreach (var (flag, expected) in new[]
        {
            ("can_multi_conn", true), ("is_read_only", false), ("can_flush", true), ("can_fua", true), ("can_trim", true),
            ("can_zero", true), ("can_fast_zero", true), ("can_cache", true), ("can_df", true),
        })
        {
            Assert.True(info.GetProperty(flag).GetBoolean() == expected, $"{flag} should be {expected}: {text}");
        }

        Assert.Contains("base:allocation", info.GetProperty("contexts").EnumerateArray().Select(c => c.GetString()));
        ServerLog.AssertNoErrors(scratch.Process);
    }

    [Fact]
    public async Task Nbdinfo_map_shows_data_where_written_and_holes_after_discard_and_unmapping_zeroes()
    {
        NbdClients.Require(NbdClients.NbdInfo, NbdClients.QemuIo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        await using var scratch = await Scratch.StartAsync(temporary.Combine("data"), cancellationToken: cancellationToken);
        var endpoint = Scratch.Endpoint(scratch);

        var fresh = await NbdClients.NbdInfoMapAsync(endpoint, cancellationToken);
        AssertCovers(fresh, Scratch.SizeBytes);
        AssertRange(fresh, 0, Scratch.SizeBytes, hole: true, "a new volume");

        (await NbdClients.QemuIoAsync(endpoint, [Write(0x21, 0, MiB), Write(0x22, 2 * MiB, 256 * KiB), Write(0x23, 4 * MiB, 64 * KiB)], cancellationToken: cancellationToken))
            .EnsureSuccess("writing");
        var written = await NbdClients.NbdInfoMapAsync(endpoint, cancellationToken);
        AssertCovers(written, Scratch.SizeBytes);
        AssertRange(written, 0, MiB, hole: false, "written");
        AssertRange(written, MiB, MiB, hole: true, "between writes");
        AssertRange(written, 2 * MiB, 256 * KiB, hole: false, "written");
        AssertRange(written, (2 * MiB) + (256 * KiB), (2 * MiB) - (256 * KiB), hole: true, "between writes");
        AssertRange(written, 4 * MiB, 64 * KiB, hole: false, "written");
        AssertRange(written, (4 * MiB) + (64 * KiB), Scratch.SizeBytes - (4 * MiB) - (64 * KiB), hole: true, "never written");

        (await NbdClients.QemuIoAsync(
            endpoint,
            [
                Command("discard", 0, 512 * KiB),              // NBD_CMD_TRIM
                Command("write -z -u", 2 * MiB, 128 * KiB),    // NBD_CMD_WRITE_ZEROES, may punch a hole
                Command("write -z", 4 * MiB, 64 * KiB),        // NBD_CMD_WRITE_ZEROES with NO_HOLE: stays allocated
                Command("discard", 8 * MiB, 64 * KiB),         // never written: stays a hole
            ],
            cancellationToken: cancellationToken)).EnsureSuccess("discarding and zeroing");
        var trimmed = await NbdClients.NbdInfoMapAsync(endpoint, cancellationToken);
        AssertCovers(trimmed, Scratch.SizeBytes);
        AssertRange(trimmed, 0, 512 * KiB, hole: true, "discarded");
        AssertRange(trimmed, 512 * KiB, 512 * KiB, hole: false, "written, not discarded");
        AssertRange(trimmed, 2 * MiB, 128 * KiB, hole: true, "zeroed with unmap allowed");
        AssertRange(trimmed, (2 * MiB) + (128 * KiB), 128 * KiB, hole: false, "written, not zeroed");
        AssertRange(trimmed, 4 * MiB, 64 * KiB, hole: false, "zeroed with NO_HOLE");
        AssertRange(trimmed, 8 * MiB, 64 * KiB, hole: true, "discarded, never written");

        (await NbdClients.QemuIoAsync(
            endpoint,
            [
                Command("read -P 0", 0, 512 * KiB),
                Command("read -P 0x21", 512 * KiB, 512 * KiB),
                Command("read -P 0", 2 * MiB, 128 * KiB),
                Command("read -P 0x22", (2 * MiB) + (128 * KiB), 128 * KiB),
                Command("read -P 0", 4 * MiB, 64 * KiB),
            ],
            readOnly: true,
            cancellationToken)).EnsureSuccess("reading what the map claims");
        ServerLog.AssertNoErrors(scratch.Process);
    }

    private static string Write(byte value, long offset, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"write -P 0x{value:x2} {offset} {length}");

    private static string Command(string verb, long offset, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"{verb} {offset} {length}");

    /// <summary>The extents run from 0 to the end without gaps or overlaps.</summary>
    private static void AssertCovers(IReadOnlyList<MapExtent> map, long sizeBytes)
    {
        long position = 0;
        foreach (var extent in map)
        {
            Assert.True(extent.Offset == position && extent.Length > 0, $"map has a gap or overlap at {position}: {Describe(map)}");
            position = extent.End;
        }

        Assert.True(position == sizeBytes, $"map ends at {position}, not {sizeBytes}: {Describe(map)}");
    }

    /// <summary>Every extent touching [offset, offset+length) is a hole reading as zeros (hole) or data (!hole).</summary>
    private static void AssertRange(IReadOnlyList<MapExtent> map, long offset, long length, bool hole, string what)
    {
        var end = offset + length;
        var touching = map.Where(e => e.Offset < end && e.End > offset).ToList();
        Assert.True(touching.Count > 0, $"nothing in the map covers [{offset}, {end}): {Describe(map)}");
        foreach (var extent in touching)
        {
            var matches = hole ? extent.IsHole && extent.ReadsAsZero : !extent.IsHole;
            Assert.True(matches, $"[{offset}, {end}) ({what}) should be {(hole ? "hole,zero" : "data")} but {extent} is not: {Describe(map)}");
        }
    }

    private static string Describe(IReadOnlyList<MapExtent> map) =>
        JsonSerializer.Serialize(map.Select(e => new { e.Offset, e.Length, e.Description }));
}
