// The real NBD clients against a running VM's disks, as a hypervisor reaches them: the address and
// export names from the VM's instance view (our `nbd` extension), TLS with the VM's certificate (the
// PEMs issueNbdCredentials returned, written by the scripts in the qemu/libnbd directory layout).
// qemu-io writes seeded random data (`write -s FILE`) and reads it back (`read -v`, parsed); nbdcopy
// copies whole files in and whole disks out. Commands are argument lists, never shell strings.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ironclad.Testing.Tools;

namespace Ironclad.Sdk.Tests;

/// <summary>One export of a running VM: where it is and which credentials directory reaches it.</summary>
internal sealed record VmExport(string Host, int Port, string ExportName, string CredentialsDirectory)
{
    public const string QemuTlsObjectId = "tls0";

    /// <summary>The export whose name ends with <paramref name="suffix"/> ("/os", "/lun/0") in an instance view summary {nbd:{address, exports}}.</summary>
    public static VmExport From(JsonElement view, string suffix, string credentialsDirectory)
    {
        Assert.True(view.TryGetProperty("nbd", out var nbd) && nbd.ValueKind == JsonValueKind.Object, $"the instance view has no nbd block: {view}");
        var address = nbd.GetProperty("address").GetString()!;
        var colon = address.LastIndexOf(':');
        var exportName = nbd.GetProperty("exports").EnumerateArray()
            .Select(e => e.GetProperty("exportName").GetString()!)
            .SingleOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal));
        Assert.True(exportName is not null, $"no export ending in {suffix}: {nbd}");
        return new VmExport(address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture), exportName!, credentialsDirectory);
    }

    public VmExport WithCredentials(string directory) => this with { CredentialsDirectory = directory };

    /// <summary>nbds://HOST:PORT/EXPORT?tls-certificates=DIR, what nbdcopy and nbdinfo take.</summary>
    public string LibnbdUri => string.Create(CultureInfo.InvariantCulture,
        $"nbds://{Host}:{Port}/{ExportName}?tls-certificates={Uri.EscapeDataString(CredentialsDirectory)}");

    public IReadOnlyList<string> QemuObjectArguments =>
        ["--object", $"tls-creds-x509,id={QemuTlsObjectId},endpoint=client,dir={CredentialsDirectory.Replace(",", ",,", StringComparison.Ordinal)}"];

    public IReadOnlyList<string> QemuImageArguments =>
        ["--image-opts", string.Create(CultureInfo.InvariantCulture,
            $"driver=nbd,host={Host},port={Port},export={ExportName.Replace(",", ",,", StringComparison.Ordinal)},tls-creds={QemuTlsObjectId}")];

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"nbds://{Host}:{Port}/{ExportName}");
}

internal static partial class VmNbd
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static ExternalTool QemuIo => ExternalTool.Require("qemu-io", "Debian package qemu-utils");

    public static ExternalTool NbdCopy => ExternalTool.Require("nbdcopy", "Debian package libnbd-bin");

    /// <summary>Arguments of `qemu-io --object ... -c C1 -c C2 ... --image-opts ...`.</summary>
    public static List<string> QemuIoArguments(VmExport export, IEnumerable<string> commands)
    {
        var arguments = new List<string>(export.QemuObjectArguments);
        foreach (var command in commands)
        {
            arguments.AddRange(["-c", command]);
        }

        arguments.AddRange(export.QemuImageArguments);
        return arguments;
    }

    public static Task<ToolResult> QemuIoAsync(VmExport export, IEnumerable<string> commands, CancellationToken cancellationToken) =>
        QemuIo.RunAsync(QemuIoArguments(export, commands), Timeout, cancellationToken: cancellationToken);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> with `write -s FILE` then `flush`; must succeed without an error line.</summary>
    public static async Task WriteAsync(VmExport export, long offset, byte[] data, string scratchDirectory, CancellationToken cancellationToken)
    {
        var file = Path.Combine(scratchDirectory, $"write-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, data, cancellationToken);
        var result = (await QemuIoAsync(export, [Invariant($"write -s {file} {offset} {data.Length}"), "flush"], cancellationToken))
            .EnsureSuccess($"qemu-io write {data.Length} bytes at {offset} of {export}");
        Assert.True(result.StandardOutput.Contains(Invariant($"wrote {data.Length}/{data.Length} bytes at offset {offset}"), StringComparison.Ordinal),
            $"qemu-io did not report the write: {result.Describe()}");
        File.Delete(file);
    }

    /// <summary>Reads a range with `qemu-io -r -c 'read -v OFF LEN'` and parses the hex dump.</summary>
    public static async Task<byte[]> ReadAsync(VmExport export, long offset, int length, CancellationToken cancellationToken)
    {
        var arguments = new List<string>(export.QemuObjectArguments) { "-r", "-c", Invariant($"read -v {offset} {length}") };
        arguments.AddRange(export.QemuImageArguments);
        var result = (await QemuIo.RunAsync(arguments, Timeout, cancellationToken: cancellationToken)).EnsureSuccess($"qemu-io read {length} at {offset} of {export}");
        var bytes = new byte[length];
        var seen = 0;
        foreach (Match line in HexDumpLine().Matches(result.StandardOutput))
        {
            var at = long.Parse(line.Groups["offset"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) - offset;
            var hex = line.Groups["bytes"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < hex.Length; i++)
            {
                bytes[at + i] = byte.Parse(hex[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }

            seen += hex.Length;
        }

        Assert.True(seen == length, $"qemu-io dumped {seen} of {length} bytes: {result.Describe()[..Math.Min(2000, result.Describe().Length)]}");
        return bytes;
    }

    /// <summary>Asserts that the range reads back as <paramref name="expected"/> (qemu-io), naming the first differing byte.</summary>
    public static async Task AssertReadsAsync(string what, VmExport export, long offset, byte[] expected, int seed, CancellationToken cancellationToken)
    {
        var actual = await ReadAsync(export, offset, expected.Length, cancellationToken);
        var mismatch = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(mismatch == expected.Length,
            Invariant($"{what}: {export} differs at byte {offset + mismatch} (expected 0x{(mismatch < expected.Length ? expected[mismatch] : 0):x2}, read 0x{(mismatch < actual.Length ? actual[mismatch] : 0):x2}) (seed={seed})"));
    }

    /// <summary>
    /// Asserts that qemu-io (and, with <paramref name="alsoNbdCopy"/>, nbdcopy) cannot open the export
    /// because the server does not offer it to this client (NBD_REP_ERR_UNKNOWN), not for another reason.
    /// </summary>
    public static async Task AssertNotServedAsync(string what, VmExport export, CancellationToken cancellationToken, bool alsoNbdCopy = false)
    {
        var qemu = (await QemuIoAsync(export, ["read 0 4096"], cancellationToken)).EnsureFailure($"{what}: qemu-io must not open {export}");
        Assert.True(qemu.CombinedOutput.Contains("Requested export not available", StringComparison.Ordinal),
            $"{what}: qemu-io should be told the export is not available: {qemu.Describe()}");
        if (alsoNbdCopy)
        {
            var copy = (await NbdCopy.RunAsync([export.LibnbdUri, "null:"], Timeout, cancellationToken: cancellationToken)).EnsureFailure($"{what}: nbdcopy must not read {export}");
            Assert.True(copy.CombinedOutput.Contains("no export named", StringComparison.Ordinal),
                $"{what}: nbdcopy should be told there is no such export: {copy.Describe()}");
        }
    }

    /// <summary>`nbdcopy FILE EXPORT`: the file's bytes at the start of the export.</summary>
    public static async Task CopyInAsync(string file, VmExport export, CancellationToken cancellationToken) =>
        (await NbdCopy.RunAsync([file, export.LibnbdUri], Timeout, cancellationToken: cancellationToken)).EnsureSuccess($"nbdcopy {file} into {export}");

    /// <summary>`nbdcopy EXPORT FILE`: the whole export into a local file.</summary>
    public static async Task CopyOutAsync(VmExport export, string file, CancellationToken cancellationToken) =>
        (await NbdCopy.RunAsync([export.LibnbdUri, file], Timeout, cancellationToken: cancellationToken)).EnsureSuccess($"nbdcopy {export} out to {file}");

    /// <summary>Seeded bytes: the same (seed, label) always gives the same data.</summary>
    public static byte[] KnownData(int seed, string label, int length)
    {
        var random = new Random(HashCode.Combine(seed, StableHash(label)));
        var data = new byte[length];
        random.NextBytes(data);
        return data;
    }

    /// <summary>64-byte slices of <paramref name="data"/> (every <paramref name="stride"/> bytes), for the plaintext scan.</summary>
    public static IEnumerable<byte[]> Slices(byte[] data, int stride = 4096)
    {
        for (var at = 0; at + 64 <= data.Length; at += stride)
        {
            yield return data[at..(at + 64)];
        }
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static int StableHash(string text)
    {
        var hash = 17;
        foreach (var c in text)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }

    // "00000200:  4a 9f ... (16 bytes)  ascii" — qemu-io's dump: offset, up to 16 hex bytes, then the text.
    [GeneratedRegex(@"^(?<offset>[0-9a-f]{8,16}):\s+(?<bytes>(?:[0-9a-f]{2} ){1,16})", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex HexDumpLine();
}
