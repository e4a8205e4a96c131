// The seed's VMs end to end (tests/sdk-js/vm-seed.mjs through @azure/arm-compute 25.1.1) with a real
// hypervisor's tools on their disks: qemu-io and nbdcopy reach the running VM's OS and data disks over
// TLS with the VM's certificate, write seeded random data, and read it back after stop/start, after
// deallocate/start/restart, and after a server restart; a client without the VM's certificate (CA only,
// or another certificate of the same CA) is refused; a VM made from a snapshot → custom image of the OS
// disk sees the data; another VM's certificate does not open this VM's disks. At the end the server is
// stopped and its data directory scanned for the data and for every DEK the vault admin can unwrap.
using System.Text.Json;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using static Ironclad.Sdk.Tests.VmNbd;

namespace Ironclad.Sdk.Tests;

public sealed class VirtualMachineSdkTests : IAsyncLifetime
{
    private const string Group = "rg-vm-e2e";
    private const long OsOffset = 200L << 20;
    private const long DataOffset = (300L << 20) + 4096 + 512;

    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "26500-26519"] };
    private readonly TempDirectory _scratch = new("ironclad-vm-e2e");

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    [Fact]
    public async Task Seed_vms_serve_their_customer_key_disks_over_nbd_with_the_vm_certificate_across_power_operations_and_a_restart()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        _ = QemuIo;
        _ = NbdCopy;
        var seed = Seeds.FromEnvironmentOrRandom();
        var certificates = _scratch.Combine("vm1-tls");
        var created = await PhaseAsync("create", seed, certificates, cancellationToken);
        var keyName = created.GetProperty("keyName").GetString()!;
        Assert.Equal("EncryptionAtRestWithCustomerKey", created.GetProperty("osDisk").GetProperty("encryption").GetString());

        // ── The OS disk is the marketplace image, re-encrypted under the set's key: nbdcopy it out and find
        // the GPT header and /IRONCLAD.TXT naming the version "latest" resolved to.
        var os = VmExport.From(created.GetProperty("view"), "/os", certificates);
        var data = VmExport.From(created.GetProperty("view"), "/lun/0", certificates);
        var imageId = created.GetProperty("osDisk").GetProperty("imageId").GetString()!;
        var version = imageId[(imageId.LastIndexOf('/') + 1)..];
        await AssertMarketplaceContentAsync(os, $"offer: ubuntu-24_04-lts\nsku: server\nversion: {version}\n", cancellationToken);

        // ── Write through the VM's exports: qemu-io into the OS disk and the data disk, nbdcopy a file into the data disk.
        var osData = KnownData(seed, "os", 256 * 1024);
        var diskData = KnownData(seed, "data", 192 * 1024 + 512);
        var copied = KnownData(seed, "nbdcopy", 1 << 20);
        var copiedFile = _scratch.Combine("nbdcopy-in.bin");
        await File.WriteAllBytesAsync(copiedFile, copied, cancellationToken);
        await WriteAsync(os, OsOffset, osData, _scratch.Path, cancellationToken);
        await WriteAsync(data, DataOffset, diskData, _scratch.Path, cancellationToken);
        await CopyInAsync(copiedFile, data, cancellationToken);
        File.Delete(copiedFile);
        await AssertAllAsync("just written", os, data, osData, diskData, copied, seed, cancellationToken);

        // ── Refused: no client certificate, or a certificate of the same CA that is not this VM's.
        var caOnly = Directory.CreateDirectory(_scratch.Combine("ca-only")).FullName;
        File.Copy(Path.Combine(certificates, "ca-cert.pem"), Path.Combine(caOnly, "ca-cert.pem"));
        var other = _scratch.Combine("other-client");
        await IssueClientCertificateAsync(other, cancellationToken);
        foreach (var (what, directory) in new[] { ("CA only, no client certificate", caOnly), ("another client certificate of the server's CA", other) })
        {
            await AssertNotServedAsync(what, data.WithCredentials(directory), cancellationToken, alsoNbdCopy: true);
        }

        // ── Stopped: no exports; started again (and deallocated, started, restarted): the data is there.
        var stopped = await PhaseAsync("stop", seed, certificates, cancellationToken);
        Assert.Equal("PowerState/stopped", stopped.GetProperty("view").GetProperty("power").GetString());
        await AssertNotServedAsync("a stopped VM's disk", data, cancellationToken);
        var started = await PhaseAsync("start", seed, certificates, cancellationToken);
        os = VmExport.From(started.GetProperty("view"), "/os", certificates);
        data = VmExport.From(started.GetProperty("view"), "/lun/0", certificates);
        await AssertAllAsync("after powerOff/start, deallocate/start, restart", os, data, osData, diskData, copied, seed, cancellationToken);

        // ── Server restart: the VM is running again (it was recorded running), the same certificate works.
        await _server.RestartAsync(cancellationToken);
        var status = await PhaseAsync("status", seed, certificates, cancellationToken);
        os = VmExport.From(status.GetProperty("view"), "/os", certificates);
        data = VmExport.From(status.GetProperty("view"), "/lun/0", certificates);
        await AssertAllAsync("after a server restart", os, data, osData, diskData, copied, seed, cancellationToken);
        var wholeDisk = _scratch.Combine("data-disk.raw");
        await CopyOutAsync(data, wholeDisk, cancellationToken);
        using (var whole = File.OpenHandle(wholeDisk))
        {
            Assert.Equal(1L << 30, RandomAccess.GetLength(whole));
            foreach (var (what, offset, expected) in new[] { ("the nbdcopy write", 0L, copied), ("the qemu-io write", DataOffset, diskData) })
            {
                var actual = new byte[expected.Length];
                Assert.Equal(expected.Length, await RandomAccess.ReadAsync(whole, actual, offset, cancellationToken));
                Assert.True(actual.AsSpan().SequenceEqual(expected), $"nbdcopy out of the data disk: {what} differs (seed={seed})");
            }
        }

        File.Delete(wholeDisk);

        // ── Snapshot → custom image → second VM: its OS disk has what was written into the first VM's OS disk.
        var certificates2 = _scratch.Combine("vm2-tls");
        var images = await PhaseAsync("images", seed, certificates2, cancellationToken);
        var os2 = VmExport.From(images.GetProperty("view"), "/os", certificates2);
        await AssertReadsAsync("the VM made from the custom image", os2, OsOffset, osData, seed, cancellationToken);
        await AssertNotServedAsync("the second VM's certificate on the first VM's data disk", data.WithCredentials(certificates2), cancellationToken);
        await AssertNotServedAsync("the first VM's certificate on the second VM's OS disk", os2.WithCredentials(certificates), cancellationToken);
        var deleteAttached = images.GetProperty("deleteAttached");
        Assert.Equal(409, deleteAttached.GetProperty("statusCode").GetInt32());
        ComputeSdkSupport.AssertNames("deleting an attached disk", deleteAttached.GetProperty("message").GetString()!, "vm-e2e-2");

        // ── A deallocated VM stays deallocated across a restart; the running one runs again, its data there.
        await PhaseAsync("deallocate2", seed, certificates, cancellationToken);
        await _server.RestartAsync(cancellationToken);
        var status2 = await PhaseAsync("status2", seed, certificates, cancellationToken);
        data = VmExport.From(status2.GetProperty("view"), "/lun/0", certificates);
        await AssertReadsAsync("data disk, after a second restart", data, DataOffset, diskData, seed, cancellationToken);

        // ── Delete: OS disks shredded, the data disk detached and kept (with the data, at rest, encrypted).
        var deleted = await PhaseAsync("delete", seed, certificates, cancellationToken);
        ComputeSdkSupport.AssertNames("deleting a disk attached to a VM", deleted.GetProperty("deleteAttached").GetProperty("message").GetString()!, "vm-e2e-1");

        // ── Nothing plaintext at rest: the data, and every DEK the vault admin can unwrap from what the server stored.
        var deks = await ComputeSdkSupport.RecoverDeksAsync(_server, new Uri(created.GetProperty("vaultUri").GetString()!),
            [created.GetProperty("keyId").GetString()!], cancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine($"recovered {deks.Count} customer-key DEKs; key {keyName}");
        Assert.True(deks.Count >= 2, $"expected the wrapped DEKs of the kept data disk and the extra disk, unwrapped {deks.Count}");
        Assert.Equal(0, await _server.Server.StopAsync(cancellationToken: cancellationToken));
        var patterns = new List<byte[]>();
        var labels = new List<string>();
        foreach (var (label, bytes) in new[] { ("os write", osData), ("data write", diskData), ("nbdcopy write", copied) })
        {
            foreach (var slice in Slices(bytes))
            {
                patterns.Add(slice);
                labels.Add(label);
            }
        }

        foreach (var (dek, index) in deks.Select((d, i) => (d.Dek, i)))
        {
            foreach (var pattern in ComputeSdkSupport.DekPatterns(dek))
            {
                patterns.Add(pattern);
                labels.Add($"DEK {index}");
            }
        }

        ComputeSdkSupport.AssertNothingPlaintext(_server, patterns, labels, seed);
    }

    private static async Task AssertAllAsync(string when, VmExport os, VmExport data, byte[] osData, byte[] diskData, byte[] copied, int seed,
        CancellationToken cancellationToken)
    {
        await AssertReadsAsync($"OS disk, {when}", os, OsOffset, osData, seed, cancellationToken);
        await AssertReadsAsync($"data disk, {when}", data, DataOffset, diskData, seed, cancellationToken);
        await AssertReadsAsync($"data disk (nbdcopy), {when}", data, 0, copied[..(128 * 1024)], seed, cancellationToken);
        await AssertReadsAsync($"data disk (nbdcopy, last bytes), {when}", data, copied.Length - 4096, copied[^4096..], seed, cancellationToken);
    }

    private async Task AssertMarketplaceContentAsync(VmExport os, string marker, CancellationToken cancellationToken)
    {
        var file = _scratch.Combine("os-disk.raw");
        await CopyOutAsync(os, file, cancellationToken);
        var needle = System.Text.Encoding.ASCII.GetBytes(marker);
        var found = -1L;
        using (var handle = File.OpenHandle(file))
        {
            var length = RandomAccess.GetLength(handle);
            var header = new byte[8];
            await RandomAccess.ReadAsync(handle, header, 512, cancellationToken);
            Assert.True(header.AsSpan().SequenceEqual("EFI PART"u8), $"the OS disk ({length} bytes) has no GPT header at LBA 1");
            var buffer = new byte[(16 << 20) + needle.Length];
            for (long at = 0; at < length && found < 0; at += 16 << 20)
            {
                var read = await RandomAccess.ReadAsync(handle, buffer, at, cancellationToken);
                var index = buffer.AsSpan(0, read).IndexOf(needle);
                found = index >= 0 ? at + index : -1;
            }
        }

        File.Delete(file);
        Assert.True(found >= 0, $"the OS disk served over NBD holds no /IRONCLAD.TXT with {marker.Replace('\n', ' ')}");
    }

    private Task<JsonElement> PhaseAsync(string phase, int seed, string certificates, CancellationToken cancellationToken) =>
        ComputeSdkSupport.RunAsync(_server, "vm-seed.mjs", seed, new Dictionary<string, string?>
        {
            ["IRONCLAD_RG"] = Group,
            ["IRONCLAD_PREFIX"] = "vm-e2e",
            ["IRONCLAD_PHASE"] = phase,
            ["IRONCLAD_CERT_DIR"] = certificates,
        }, cancellationToken);

    /// <summary>A client certificate of the server's own CA for another name (`ironclad dev issue-client-cert`).</summary>
    private async Task IssueClientCertificateAsync(string directory, CancellationToken cancellationToken)
    {
        await using var process = IroncladProcess.Start(["dev", "issue-client-cert", "--data", _server.DataDirectory, "--name", "not-the-vm", "--out", directory]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: cancellationToken);
        Assert.True(exitCode == 0, $"{process.Describe()} exited {exitCode}.\n{process.CapturedOutput()}");
    }
}
