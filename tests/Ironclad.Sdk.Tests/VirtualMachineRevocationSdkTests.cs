// Revocation while a hypervisor writes (tests/sdk-js/vm-revocation.mjs + a real qemu-io): a long
// qemu-io loop writes seeded random patterns into the running VM's data disk over TLS — write chunk i,
// flush, read chunk i back (the read's "read N/N bytes at offset" line proves the flush before it was
// answered: once the key is revoked every request fails, so no read can succeed after a failed flush).
// The key is disabled through @azure/keyvault-keys: the VM goes to PowerState/stopped with a KeyAccess
// status naming the key, qemu-io reports I/O errors, start is refused naming the key; the key is enabled
// again, the VM starts, and every chunk up to the last acknowledged flush reads back intact, as does
// data written and flushed before the loop. Then the same with the set identity's access policy removed
// and added back (no writer this time).
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ironclad.Testing;
using static Ironclad.Sdk.Tests.VmNbd;

namespace Ironclad.Sdk.Tests;

public sealed partial class VirtualMachineRevocationSdkTests : IAsyncLifetime
{
    private const int Chunk = 64 * 1024;
    private const int Chunks = 10000;
    private const long BeforeOffset = 900L << 20;

    /// <summary>Key disabled → VM stopped, seen through the instance view (polled every 20 ms); the design aims at about a second.</summary>
    private const int MaximumStopMilliseconds = 3000;

    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "26520-26539"] };
    private readonly TempDirectory _scratch = new("ironclad-vm-revocation");

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    [Fact]
    public async Task Disabling_the_key_while_qemu_io_writes_stops_the_vm_fails_io_and_keeps_everything_flushed()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        _ = QemuIo;
        var seed = Seeds.FromEnvironmentOrRandom();
        var certificates = _scratch.Combine("tls");
        var setup = await PhaseAsync("setup", seed, certificates, cancellationToken);
        var keyName = setup.GetProperty("keyName").GetString()!;
        var data = VmExport.From(setup.GetProperty("view"), "/lun/0", certificates);

        var before = KnownData(seed, "before-loop", 128 * 1024);
        await WriteAsync(data, BeforeOffset, before, _scratch.Path, cancellationToken);

        // The loop: chunk i at i × 64 KiB with a seeded pattern byte.
        var random = new Random(seed);
        var values = Enumerable.Range(0, Chunks).Select(_ => (byte)random.Next(0x10, 0xF0)).ToArray();
        var commands = new List<string>(Chunks * 3);
        for (var i = 0; i < Chunks; i++)
        {
            var offset = (long)i * Chunk;
            commands.Add(Invariant($"write -P 0x{values[i]:x2} {offset} {Chunk}"));
            commands.Add("flush");
            commands.Add(Invariant($"read -P 0x{values[i]:x2} {offset} {Chunk}"));
        }

        await using var loop = QemuIo.Start(QemuIoArguments(data, commands));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (ReadMarkers(loop.StandardOutput).Count < 30)
        {
            Assert.False(loop.HasExited, $"qemu-io ended before the key was disabled:\n{loop.StandardError}\n{Tail(loop.StandardOutput)}");
            Assert.True(DateTime.UtcNow < deadline, $"qemu-io made no progress in 60 s:\n{loop.StandardError}\n{Tail(loop.StandardOutput)}");
            await Task.Delay(50, cancellationToken);
        }

        var disabled = await PhaseAsync("disable", seed, certificates, cancellationToken);
        var result = await loop.WaitForExitAsync(TimeSpan.FromSeconds(180), cancellationToken);
        var markers = ReadMarkers(result.StandardOutput);
        Assert.True(markers.Count < Chunks, $"qemu-io finished every chunk: the key was disabled too late to test anything ({result.Elapsed})");
        var lastFlushed = markers.Max();
        Assert.Equal(Enumerable.Range(0, lastFlushed + 1), markers.Order());
        TestContext.Current.TestOutputHelper?.WriteLine(Invariant(
            $"qemu-io: {markers.Count} chunks flushed and read back before the revocation; VM stopped {disabled.GetProperty("stoppedFromCallMs").GetInt32()} ms after the vault call (the call took {disabled.GetProperty("vaultCallMs").GetInt32()} ms)"));
        Assert.True(result.CombinedOutput.Contains("Input/output error", StringComparison.Ordinal)
                || result.CombinedOutput.Contains("failed", StringComparison.OrdinalIgnoreCase),
            $"qemu-io should report I/O errors after the revocation: {result.StandardError}\n{Tail(result.StandardOutput)}");
        Assert.NotEqual(0, result.ExitCode);

        Assert.InRange(disabled.GetProperty("stoppedFromCallMs").GetInt32(), 0, MaximumStopMilliseconds);

        // The VM stopped because of the key, and says so.
        var view = disabled.GetProperty("view");
        Assert.Equal("PowerState/stopped", view.GetProperty("power").GetString());
        var keyStatus = disabled.GetProperty("keyStatus");
        Assert.True(keyStatus.ValueKind == JsonValueKind.Object, $"no KeyAccess/... status in the stopped VM's instance view: {view}");
        Assert.Equal("KeyAccess/KeyDisabled", keyStatus.GetProperty("code").GetString());
        Assert.Equal("Error", keyStatus.GetProperty("level").GetString());
        ComputeSdkSupport.AssertNames("the KeyAccess status", keyStatus.GetProperty("message").GetString() ?? string.Empty, keyName);
        var start = disabled.GetProperty("start");
        Assert.False(start.TryGetProperty("succeeded", out _), $"start with the key disabled must be refused: {start}");
        Assert.InRange(start.GetProperty("statusCode").GetInt32(), 400, 499);
        ComputeSdkSupport.AssertNames("start with the key disabled", start.GetProperty("message").GetString()!, keyName, "disabled");
        Assert.Equal("PowerState/stopped", disabled.GetProperty("afterRefusal").GetProperty("power").GetString());
        await AssertNotServedAsync("a VM stopped by revocation", data, cancellationToken);

        // Access returns: the VM starts, and everything flushed is there.
        var enabled = await PhaseAsync("enable", seed, certificates, cancellationToken);
        data = VmExport.From(enabled.GetProperty("view"), "/lun/0", certificates);
        await AssertReadsAsync("data flushed before the loop", data, BeforeOffset, before, seed, cancellationToken);
        var verify = new List<string>();
        for (var i = 0; i <= lastFlushed; i++)
        {
            verify.Add(Invariant($"read -P 0x{values[i]:x2} {(long)i * Chunk} {Chunk}"));
        }

        var check = (await QemuIoAsync(data, verify, cancellationToken)).EnsureSuccess("reading back the flushed chunks");
        Assert.DoesNotContain("Pattern verification failed", check.CombinedOutput, StringComparison.Ordinal);
        Assert.True(ReadMarkers(check.StandardOutput).Count == lastFlushed + 1,
            Invariant($"every chunk up to the last flush ({lastFlushed + 1}) reads back (seed={seed}): {check.StandardError}\n{Tail(check.StandardOutput)}"));

        // The same through the access policy: removed → stopped, start refused naming the key and the identity; back → running, data there.
        var policy = await PhaseAsync("policy", seed, certificates, cancellationToken);
        Assert.InRange(policy.GetProperty("stoppedFromCallMs").GetInt32(), 0, MaximumStopMilliseconds);
        var policyStatus = policy.GetProperty("keyStatus");
        Assert.True(policyStatus.ValueKind == JsonValueKind.Object, $"no KeyAccess/... status after the access policy was removed: {policy}");
        Assert.StartsWith("KeyAccess/", policyStatus.GetProperty("code").GetString(), StringComparison.Ordinal);
        var policyStart = policy.GetProperty("start");
        Assert.False(policyStart.TryGetProperty("succeeded", out _), $"start with the access policy removed must be refused: {policyStart}");
        ComputeSdkSupport.AssertNames("start with the access policy removed", policyStart.GetProperty("message").GetString()!, keyName,
            policy.GetProperty("principalId").GetString()!);
        data = VmExport.From(policy.GetProperty("view"), "/lun/0", certificates);
        await AssertReadsAsync("data after the access policy came back", data, BeforeOffset, before, seed, cancellationToken);
        await AssertReadsAsync("the last flushed chunk after the access policy came back", data, (long)lastFlushed * Chunk,
            Enumerable.Repeat(values[lastFlushed], Chunk).ToArray(), seed, cancellationToken);
    }

    private Task<JsonElement> PhaseAsync(string phase, int seed, string certificates, CancellationToken cancellationToken) =>
        ComputeSdkSupport.RunAsync(_server, "vm-revocation.mjs", seed, new Dictionary<string, string?>
        {
            ["IRONCLAD_RG"] = "rg-vm-revocation",
            ["IRONCLAD_PREFIX"] = "vmrev",
            ["IRONCLAD_PHASE"] = phase,
            ["IRONCLAD_CERT_DIR"] = certificates,
        }, cancellationToken);

    /// <summary>The chunk indexes whose read-back qemu-io reported ("read 65536/65536 bytes at offset N").</summary>
    private static List<int> ReadMarkers(string output) =>
        [.. ReadLine().Matches(output).Select(m => (int)(long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / Chunk))];

    private static string Tail(string text) => text.Length > 3000 ? "…" + text[^3000..] : text;

    [GeneratedRegex(@"^read 65536/65536 bytes at offset (\d+)$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex ReadLine();
}
