// A running VM's disks over NBD against a real server, reached only through ARM over HTTPS (no CLI):
// qemu-io, nbdcopy and nbdinfo with the VM's certificate (POST issueNbdCredentials) write seeded data
// that survives stop/start and a server restart; no certificate, or another VM's, opens nothing; a key
// disabled while qemu-io writes stops the VM and fails its I/O, and what was flushed before is there
// when the key is back. Nothing written reaches the data directory in plaintext.
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using Ironclad.Testing.Tools;

namespace Ironclad.Compute.Tests.VmRuntime;

public sealed class VmRuntimeServer : DiskServer
{
    protected override string VaultPorts => "26200-26219";
}

public sealed class VmNbdTests(VmRuntimeServer server) : IClassFixture<VmRuntimeServer>, IDisposable
{
    private const string VmApi = "api-version=2024-07-01";
    private const int OsPatternBytes = 256 << 10;
    private const int DataPatternBytes = 1 << 20;

    private static readonly int Seed = Seeds.FromEnvironmentOrRandom();

    private readonly TempDirectory _work = new("ironclad-vm-nbd");
    private readonly ExternalTool _qemuIo = ExternalTool.Require("qemu-io");
    private readonly ExternalTool _nbdcopy = ExternalTool.Require("nbdcopy");
    private readonly ExternalTool _nbdinfo = ExternalTool.Require("nbdinfo");

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Vm_disks_are_served_to_its_certificate_only_and_keep_their_data_across_stop_start_and_a_server_restart()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        const string group = "rg-vm-nbd";
        var (setId, _) = await CreateCustomerKeySetAsync(group, "kv-nbd", "k-nbd", "des-nbd");
        var vm = await CreateVmAsync(group, "vm1", setId, withDataDisk: true);
        var other = await CreateVmAsync(group, "vm2", setId, withDataDisk: false);
        var certs = await IssueCredentialsAsync(vm, "vm1-certs");
        var otherCerts = await IssueCredentialsAsync(other, "vm2-certs");
        var anonymous = _work.Combine("anonymous");
        Directory.CreateDirectory(anonymous);
        File.Copy(Path.Combine(certs, "ca-cert.pem"), Path.Combine(anonymous, "ca-cert.pem"));

        var random = new Random(Seed);
        var osPattern = new byte[OsPatternBytes];
        var dataPattern = new byte[DataPatternBytes];
        random.NextBytes(osPattern);
        random.NextBytes(dataPattern);
        var osPatternFile = _work.Combine("os-pattern.bin");
        var dataPatternFile = _work.Combine("data-pattern.bin");
        await File.WriteAllBytesAsync(osPatternFile, osPattern, TestContext.Current.CancellationToken);
        await File.WriteAllBytesAsync(dataPatternFile, dataPattern, TestContext.Current.CancellationToken);

        var nbd = await RunningNbdAsync(vm);
        Assert.Equal("required", nbd.GetProperty("tls").GetString());
        Assert.Equal($"CN=vm-{vm.UniqueId}", nbd.GetProperty("clientCertificateSubject").GetString());
        var osExport = ExportName(nbd, lun: null);
        var dataExport = ExportName(nbd, lun: 0);
        Assert.Equal($"vm/{vm.UniqueId}/os", osExport);
        Assert.Equal($"vm/{vm.UniqueId}/lun/0", dataExport);

        // qemu-io writes the OS disk pattern at 1 MiB; nbdcopy writes the data disk pattern at 0 (flushed).
        var address = nbd.GetProperty("address").GetString()!;
        (await QemuIoAsync(address, osExport, certs, $"write -s {osPatternFile} 1M {OsPatternBytes}", "flush")).EnsureSuccess("qemu-io write with the VM certificate");
        (await _nbdcopy.RunAsync(["--flush", dataPatternFile, Uri(address, dataExport, certs)], TimeSpan.FromMinutes(2), cancellationToken: TestContext.Current.CancellationToken))
            .EnsureSuccess("nbdcopy to the data disk with the VM certificate");
        await AssertDataAsync(address, osExport, dataExport, certs, osPattern, dataPattern);

        // Without a client certificate, or with another VM's, the exports do not exist.
        await AssertRefusedAsync(address, osExport, anonymous, "no client certificate");
        await AssertRefusedAsync(address, dataExport, otherCerts, "another VM's certificate");
        var qemuAnonymous = await QemuIoAsync(address, osExport, anonymous, "read 0 4k");
        Assert.False(qemuAnonymous.Succeeded, $"qemu-io without a client certificate opened the export: {qemuAnonymous.CombinedOutput}");
        var listed = await _nbdinfo.RunAsync(["--list", $"nbds://{address}/?tls-certificates={anonymous}"], cancellationToken: TestContext.Current.CancellationToken);
        Assert.DoesNotContain(vm.UniqueId, listed.CombinedOutput, StringComparison.Ordinal);

        // Stop: the exports are gone; start: the data is there.
        await server.ArmOkAsync(HttpMethod.Post, $"{vm.Id}/powerOff?{VmApi}", expected: 200);
        Assert.False((await InstanceViewAsync(vm)).TryGetProperty("nbd", out _), "a stopped VM still lists NBD exports");
        await AssertRefusedAsync(address, osExport, certs, "a stopped VM");
        await server.ArmOkAsync(HttpMethod.Post, $"{vm.Id}/start?{VmApi}", expected: 200);
        nbd = await RunningNbdAsync(vm);
        await AssertDataAsync(nbd.GetProperty("address").GetString()!, osExport, dataExport, certs, osPattern, dataPattern);

        // A server restart resumes the VM (new NBD port) with its data; while it is down nothing written is found in plaintext.
        await AssertNoPlaintextAsync(osPattern, dataPattern);
        nbd = await RunningNbdAsync(vm);
        address = nbd.GetProperty("address").GetString()!;
        Assert.Equal(server.Server.Endpoints.Nbd, address);
        await AssertDataAsync(address, osExport, dataExport, certs, osPattern, dataPattern);
        await AssertRefusedAsync(address, osExport, anonymous, "no client certificate after the restart");
    }

    [Fact]
    public async Task Revocation_while_qemu_io_writes_stops_the_vm_fails_its_io_and_keeps_what_was_flushed()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        const string group = "rg-vm-revoke";
        var (setId, key) = await CreateCustomerKeySetAsync(group, "kv-revoke", "k-revoke", "des-revoke");
        var vm = await CreateVmAsync(group, "vm-r", setId, withDataDisk: false);
        var certs = await IssueCredentialsAsync(vm, "vm-r-certs");
        var nbd = await RunningNbdAsync(vm);
        var address = nbd.GetProperty("address").GetString()!;
        var osExport = ExportName(nbd, lun: null);

        var flushed = new byte[OsPatternBytes];
        new Random(Seed).NextBytes(flushed);
        var flushedFile = _work.Combine("flushed.bin");
        await File.WriteAllBytesAsync(flushedFile, flushed, TestContext.Current.CancellationToken);
        (await QemuIoAsync(address, osExport, certs, $"write -s {flushedFile} 0 {OsPatternBytes}", "flush")).EnsureSuccess("qemu-io write before the revocation");

        // A long stream of writes (64 KiB each, from 1 MiB on); the key is disabled while it runs.
        var writes = Enumerable.Range(0, 6000).Select(i => string.Create(CultureInfo.InvariantCulture, $"write -P 0x5a {(1L << 20) + ((i % 4000) * 65536L)} 64k"));
        await using (var writer = _qemuIo.Start(QemuIoArguments(address, osExport, certs, [.. writes])))
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!writer.StandardOutput.Contains("wrote ", StringComparison.Ordinal) && !writer.HasExited && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            Assert.False(writer.HasExited, $"qemu-io finished (or failed) before the key was disabled: {writer.StandardError}");
            await SetKeyEnabledAsync(key, enabled: false);
            var result = await writer.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
            Assert.Contains("write failed", result.CombinedOutput, StringComparison.Ordinal);
        }

        var view = await WaitForPowerStateAsync(vm, "PowerState/stopped");
        var keyStatus = view.GetProperty("statuses").EnumerateArray().Single(s => s.GetProperty("code").GetString()!.StartsWith("KeyAccess/", StringComparison.Ordinal));
        Assert.Equal("KeyAccess/KeyDisabled", keyStatus.GetProperty("code").GetString());
        Assert.Equal("Error", keyStatus.GetProperty("level").GetString());
        Assert.False(view.TryGetProperty("nbd", out _));
        await AssertRefusedAsync(address, osExport, certs, "a VM stopped by revocation");

        var (status, refused) = await server.ArmAsync(HttpMethod.Post, $"{vm.Id}/start?{VmApi}");
        Assert.Equal(409, status);
        Assert.Equal("KeyDisabled", refused!.Value.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(key.Split('/')[4], refused.Value.GetProperty("error").GetProperty("message").GetString()!, StringComparison.Ordinal);

        await SetKeyEnabledAsync(key, enabled: true);
        await server.ArmOkAsync(HttpMethod.Post, $"{vm.Id}/start?{VmApi}", expected: 200);
        nbd = await RunningNbdAsync(vm);
        var image = await CopyOutAsync(nbd.GetProperty("address").GetString()!, osExport, certs, "after-revocation.img");
        Assert.True(flushed.AsSpan().SequenceEqual(Slice(image, 0, OsPatternBytes)), $"the data flushed before the revocation changed (seed {Seed})");
        await AssertNoPlaintextAsync(flushed);
    }

    private async Task<(string SetId, string KeyUrl)> CreateCustomerKeySetAsync(string group, string vault, string keyName, string set)
    {
        await server.CreateGroupAsync(group);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, vault);
        var key = await server.CreateKeyAsync(vaultUri, keyName);
        var (setId, _) = await server.CreateSetAsync(group, set, vaultId, key);
        return (setId, key);
    }

    /// <summary>A VM whose OS disk is an attached customer-key disk, with an Empty customer-key data disk at lun 0 when asked.</summary>
    private async Task<Vm> CreateVmAsync(string group, string name, string setId, bool withDataDisk)
    {
        var os = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", name + "-os")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, setId), expected: 201);
        var storage = new JsonObject
        {
            ["osDisk"] = new JsonObject
            {
                ["createOption"] = "Attach",
                ["osType"] = "Linux",
                ["managedDisk"] = new JsonObject { ["id"] = os.GetProperty("id").GetString() },
            },
        };
        if (withDataDisk)
        {
            storage["dataDisks"] = new JsonArray(new JsonObject
            {
                ["lun"] = 0,
                ["createOption"] = "Empty",
                ["diskSizeGB"] = 1,
                ["managedDisk"] = new JsonObject { ["storageAccountType"] = "Premium_LRS", ["diskEncryptionSet"] = new JsonObject { ["id"] = setId } },
            });
        }

        var path = server.ComputePath(group, "virtualMachines", name);
        var created = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{VmApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["hardwareProfile"] = new JsonObject { ["vmSize"] = "Standard_D2s_v3" },
                ["storageProfile"] = storage,
            },
        });
        return new Vm(created.GetProperty("id").GetString()!, created.GetProperty("properties").GetProperty("vmId").GetString()!);
    }

    /// <summary>POST issueNbdCredentials; writes the three PEMs (key 0600) in the layout qemu and libnbd read.</summary>
    private async Task<string> IssueCredentialsAsync(Vm vm, string directoryName)
    {
        var body = await server.ArmOkAsync(HttpMethod.Post, $"{vm.Id}/issueNbdCredentials?{VmApi}", new JsonObject { ["validityInHours"] = 2 }, expected: 200);
        var directory = _work.Combine(directoryName);
        Directory.CreateDirectory(directory);
        foreach (var (file, field) in new[] { ("ca-cert.pem", "caCertificate"), ("client-cert.pem", "clientCertificate"), ("client-key.pem", "clientKey") })
        {
            var path = Path.Combine(directory, file);
            await File.WriteAllTextAsync(path, body.GetProperty(field).GetString(), TestContext.Current.CancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        Assert.Equal($"CN=vm-{vm.UniqueId}", body.GetProperty("clientCertificateSubject").GetString());
        return directory;
    }

    private async Task<JsonElement> InstanceViewAsync(Vm vm) =>
        await server.ArmOkAsync(HttpMethod.Get, $"{vm.Id}/instanceView?{VmApi}", expected: 200);

    private async Task<JsonElement> RunningNbdAsync(Vm vm)
    {
        var view = await WaitForPowerStateAsync(vm, "PowerState/running");
        Assert.True(view.TryGetProperty("nbd", out var nbd), $"a running VM has no nbd in its instance view: {view}");
        return nbd;
    }

    private async Task<JsonElement> WaitForPowerStateAsync(Vm vm, string code)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var view = await InstanceViewAsync(vm);
            if (view.GetProperty("statuses").EnumerateArray().Any(s => s.GetProperty("code").GetString() == code) || DateTime.UtcNow > deadline)
            {
                Assert.True(view.GetProperty("statuses").EnumerateArray().Any(s => s.GetProperty("code").GetString() == code), $"{vm.Id} never reached {code}: {view}");
                return view;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    private async Task SetKeyEnabledAsync(string keyUrl, bool enabled)
    {
        var token = await server.TokenAsync(DiskServer.VaultScope);
        var uri = new Uri(keyUrl);
        using var http = CaTrust.CreateHttpClient(server.Server.Endpoints.CaCertificate, new Uri(uri.GetLeftPart(UriPartial.Authority)));
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"{uri.AbsolutePath}?api-version=7.4")
        {
            Content = new StringContent(new JsonObject { ["attributes"] = new JsonObject { ["enabled"] = enabled } }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"key update answered {(int)response.StatusCode}");
    }

    private sealed record Vm(string Id, string UniqueId);

    private static string ExportName(JsonElement nbd, int? lun) =>
        nbd.GetProperty("exports").EnumerateArray()
            .Single(e => lun is null ? e.GetProperty("lun").ValueKind == JsonValueKind.Null : e.GetProperty("lun").ValueKind == JsonValueKind.Number && e.GetProperty("lun").GetInt32() == lun)
            .GetProperty("exportName").GetString()!;

    private static string Uri(string address, string export, string certificates) => $"nbds://{address}/{export}?tls-certificates={certificates}";

    private static List<string> QemuIoArguments(string address, string export, string certificates, IReadOnlyList<string> commands)
    {
        var port = address[(address.LastIndexOf(':') + 1)..];
        var arguments = new List<string>
        {
            "--object", $"tls-creds-x509,id=tls0,dir={certificates},endpoint=client",
            "--image-opts", $"driver=nbd,host=127.0.0.1,port={port},export={export},tls-creds=tls0",
        };
        foreach (var command in commands)
        {
            arguments.AddRange(["-c", command]);
        }

        return arguments;
    }

    private Task<ToolResult> QemuIoAsync(string address, string export, string certificates, params string[] commands) =>
        _qemuIo.RunAsync(QemuIoArguments(address, export, certificates, commands), TimeSpan.FromMinutes(2), cancellationToken: TestContext.Current.CancellationToken);

    private async Task AssertRefusedAsync(string address, string export, string certificates, string why)
    {
        var result = await _nbdinfo.RunAsync([Uri(address, export, certificates)], cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(result.Succeeded, $"nbdinfo opened {export} with {why}: {result.CombinedOutput}");
    }

    private async Task<byte[]> CopyOutAsync(string address, string export, string certificates, string fileName)
    {
        var file = _work.Combine(fileName);
        File.Delete(file);
        (await _nbdcopy.RunAsync([Uri(address, export, certificates), file], TimeSpan.FromMinutes(3), cancellationToken: TestContext.Current.CancellationToken))
            .EnsureSuccess($"nbdcopy {export} to a file");
        return await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken);
    }

    private async Task AssertDataAsync(string address, string osExport, string dataExport, string certificates, byte[] osPattern, byte[] dataPattern)
    {
        var os = await CopyOutAsync(address, osExport, certificates, "os.img");
        Assert.True(osPattern.AsSpan().SequenceEqual(Slice(os, 1 << 20, osPattern.Length)), $"the OS disk does not read back what qemu-io wrote (seed {Seed})");
        var data = await CopyOutAsync(address, dataExport, certificates, "data.img");
        Assert.True(dataPattern.AsSpan().SequenceEqual(Slice(data, 0, dataPattern.Length)), $"the data disk does not read back what nbdcopy wrote (seed {Seed})");
        File.Delete(_work.Combine("os.img"));
        File.Delete(_work.Combine("data.img"));
    }

    private static ReadOnlySpan<byte> Slice(byte[] image, int offset, int length) => image.AsSpan(offset, length);

    /// <summary>Scans the data directory while the server is stopped (it locks its files), then starts it again.</summary>
    private Task AssertNoPlaintextAsync(params byte[][] patterns) => server.RestartAsync(() => AssertNoPlaintext(patterns));

    private void AssertNoPlaintext(byte[][] patterns)
    {
        // 64-byte windows from each pattern: any one of them at rest would be plaintext.
        var windows = patterns.SelectMany(p => Enumerable.Range(0, 8).Select(i => p.AsSpan(i * (p.Length / 8), 64).ToArray())).ToList();
        var findings = PlaintextScanner.Scan(server.DataDirectory, windows);
        Assert.True(findings.Count == 0, $"plaintext found in the data directory: {string.Join(", ", findings.Take(5))} (seed {Seed})");
    }
}
