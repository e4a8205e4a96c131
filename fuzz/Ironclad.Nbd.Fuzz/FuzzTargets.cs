// The NBD fuzz targets: the parsers that see untrusted bytes before anything else does. Each target
// is total (never throws on any input) and checks an oracle: whatever it accepts must re-encode to
// exactly the bytes it was given, so "accepted" and "understood" cannot drift apart.
// Invariant: every [FuzzTarget] method is listed in All (a test in Ironclad.Nbd.Tests fails
// otherwise), and All is what the fuzzer dispatches to and what the smoke tests run.
using System.Buffers.Binary;
using System.Text;
using Ironclad.Nbd.Protocol;
using SharpFuzz;

namespace Ironclad.Nbd.Fuzz;

/// <summary>Marks a method as a fuzz target; it must also be registered in <see cref="NbdFuzzTargets.All"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class FuzzTargetAttribute : Attribute;

/// <summary>One named target. Its index in <see cref="NbdFuzzTargets.All"/> is the first byte of its corpus files.</summary>
internal sealed record FuzzTarget(string Name, ReadOnlySpanAction Run);

/// <summary>Thrown when a parser accepts input that does not round-trip: a finding, like a crash.</summary>
internal sealed class FuzzOracleException(string message) : Exception(message);

internal static class NbdFuzzTargets
{
    /// <summary>Order is part of the corpus format (the dispatch byte): append only.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("request-header", RequestHeaderTryParse),
        new("info-request", InfoRequest),
        new("meta-context-request", MetaContextRequest),
        new("export-name", ExportName),
    ];

    /// <summary>The fuzzer's entry point: the first byte picks the target, the rest is its input.</summary>
    public static void Dispatch(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        All[input[0] % All.Count].Run(input[1..]);
    }

    [FuzzTarget]
    public static void RequestHeaderTryParse(ReadOnlySpan<byte> input)
    {
        var parsed = RequestHeader.TryParse(input, out var header);
        var expected = input.Length >= RequestHeader.SizeBytes && BinaryPrimitives.ReadUInt32BigEndian(input) == NbdMagic.Request;
        if (parsed != expected)
        {
            throw new FuzzOracleException($"TryParse returned {parsed} for {input.Length} bytes (expected {expected})");
        }

        if (parsed)
        {
            Span<byte> written = stackalloc byte[RequestHeader.SizeBytes];
            RequestHeader.Write(written, header);
            Check(written.SequenceEqual(input[..RequestHeader.SizeBytes]), "request header does not round-trip");
        }
    }

    [FuzzTarget]
    public static void InfoRequest(ReadOnlySpan<byte> input)
    {
        if (!OptionPayloads.TryParseInfoRequest(input, out var name, out var requested))
        {
            return;
        }

        var nameBytes = CheckedString(name);
        var encoded = new byte[4 + nameBytes.Length + 2 + (requested.Length * 2)];
        BinaryPrimitives.WriteUInt32BigEndian(encoded, (uint)nameBytes.Length);
        nameBytes.CopyTo(encoded, 4);
        var at = 4 + nameBytes.Length;
        BinaryPrimitives.WriteUInt16BigEndian(encoded.AsSpan(at), checked((ushort)requested.Length));
        for (var i = 0; i < requested.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(encoded.AsSpan(at + 2 + (i * 2)), (ushort)requested[i]);
        }

        Check(encoded.AsSpan().SequenceEqual(input), "info request does not round-trip");
    }

    [FuzzTarget]
    public static void MetaContextRequest(ReadOnlySpan<byte> input)
    {
        if (!OptionPayloads.TryParseMetaContextRequest(input, out var exportName, out var queries))
        {
            return;
        }

        Check(queries.Length <= OptionPayloads.QueriesMax, $"{queries.Length} queries accepted (limit {OptionPayloads.QueriesMax})");
        using var encoded = new MemoryStream();
        WriteString(encoded, CheckedString(exportName));
        WriteUInt32(encoded, (uint)queries.Length);
        foreach (var query in queries)
        {
            WriteString(encoded, CheckedString(query));
        }

        Check(encoded.GetBuffer().AsSpan(0, (int)encoded.Length).SequenceEqual(input), "meta context request does not round-trip");
    }

    [FuzzTarget]
    public static void ExportName(ReadOnlySpan<byte> input)
    {
        if (OptionPayloads.TryParseExportName(input, out var name))
        {
            Check(CheckedString(name).AsSpan().SequenceEqual(input), "export name does not round-trip");
        }
    }

    /// <summary>The spec's string rules (UTF-8, no NUL, at most 4096 bytes) hold for anything a parser returns.</summary>
    private static byte[] CheckedString(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Check(bytes.Length <= OptionPayloads.StringBytesMax, $"string of {bytes.Length} bytes accepted");
        Check(!value.Contains('\0', StringComparison.Ordinal), "string with NUL accepted");
        return bytes;
    }

    private static void WriteString(MemoryStream stream, byte[] bytes)
    {
        WriteUInt32(stream, (uint)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteUInt32(MemoryStream stream, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void Check(bool condition, string finding)
    {
        if (!condition)
        {
            throw new FuzzOracleException(finding);
        }
    }
}
