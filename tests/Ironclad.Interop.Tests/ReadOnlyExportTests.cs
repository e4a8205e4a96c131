// A snapshot served as an NBD export: read-only to every client. qemu sees the read-only flag and
// will not open it for writing; a client that sends writes anyway (libnbd with strict mode off)
// gets EPERM from the server itself; reads return the data as it was when the snapshot was
// taken, while the volume it came from has moved on.
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class ReadOnlyExportTests
{
    private const long VolumeBytes = 64L << 20;
    private const string SnapshotExport = "snapshot";

    // Sends a write, a trim and a write-zeroes whatever the export advertises, one line per outcome.
    private const string WriteAnywayScript = """
        h.set_strict_mode(0)
        for name, op in [("write", lambda: h.pwrite(b"\x01" * 4096, 0)),
                         ("trim", lambda: h.trim(4096, 0)),
                         ("zero", lambda: h.zero(4096, 0))]:
            try:
                op()
                print(name, "succeeded")
            except nbd.Error as e:
                print(name, e.errno)
        """;

    [Fact]
    public async Task A_snapshot_export_refuses_writes_and_reads_its_point_in_time_data()
    {
        NbdClients.Require(NbdClients.QemuIo, NbdClients.NbdInfo, NbdClients.NbdSh);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        await using var server = await InProcessVolumeServer.StartAsync(temporary.Combine("store"), VolumeBytes);
        var volume = server.Endpoint();

        var before = PatternWrites.Create(VolumeBytes, seed);
        (await NbdClients.QemuIoAsync(volume, before.WriteCommands, cancellationToken: cancellationToken)).EnsureSuccess("writing the patterns");
        var snapshot = server.AddSnapshotExport(SnapshotExport);
        var after = before.OverwriteEveryOther();
        (await NbdClients.QemuIoAsync(volume, after.ChangedSince(before).Select(w => w.WriteCommand), cancellationToken: cancellationToken))
            .EnsureSuccess("overwriting half of them on the volume after the snapshot");

        var info = await NbdClients.NbdInfoExportJsonAsync(snapshot, cancellationToken);
        Assert.True(info.GetProperty("is_read_only").GetBoolean(), info.ToString());
        Assert.False(info.GetProperty("can_trim").GetBoolean(), info.ToString());
        Assert.False(info.GetProperty("can_zero").GetBoolean(), info.ToString());
        Assert.Equal(VolumeBytes, info.GetProperty("export-size").GetInt64());

        var qemuWrite = (await NbdClients.QemuIoAsync(snapshot, ["write -P 0x01 0 4096"], cancellationToken: cancellationToken))
            .EnsureFailure("qemu-io opening the snapshot for writing");
        Assert.Contains("Permission denied", qemuWrite.CombinedOutput, StringComparison.Ordinal);

        var writeAnyway = (await NbdClients.NbdShAsync(snapshot, WriteAnywayScript, cancellationToken)).EnsureSuccess("nbdsh sending writes anyway");
        var outcomes = writeAnyway.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(outcomes is ["write EPERM", "trim EPERM", "zero EPERM"], $"expected EPERM from the server for each:\n{writeAnyway.Describe()}");

        (await NbdClients.QemuIoAsync(snapshot, before.VerifyCommands, readOnly: true, cancellationToken))
            .EnsureSuccess("the snapshot reads the data of its point in time (and the refused writes changed nothing)");
        (await NbdClients.QemuIoAsync(volume, after.VerifyCommands, readOnly: true, cancellationToken))
            .EnsureSuccess("the volume reads the newer data");

        await server.StopAsync();
        await AtRest.AssertNoPlaintextAsync(server.StoreDirectory, [.. before.ScanPatterns, .. after.ScanPatterns], before.Writes.Sum(w => (long)w.Length));
    }
}
