// A disk's data encryption key (DEK): 512 bits = an XTS-AES-256 key pair (IEEE 1619-2007 §5.1).
// Invariant: the key bytes live only in pinned native memory owned by this object, are never
// exposed as a managed array, never appear in ToString/serialization, and are zeroed on Dispose.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Serialization;

namespace Ironclad.Crypto.Keys;

[DebuggerDisplay("DataKey(redacted)")]
[JsonConverter(typeof(RefuseToSerializeConverter))]
public sealed unsafe class DataKey : IDisposable
{
    public const int SizeBytes = 64;

    private byte* _bytes;

    private DataKey()
    {
        _bytes = (byte*)NativeMemory.AlignedAlloc(SizeBytes, 64);
    }

    /// <summary>Generates a fresh key from the OS CSPRNG. The two XTS halves are guaranteed to differ.</summary>
    public static DataKey Generate()
    {
        var key = new DataKey();
        var span = key.Span;
        do
        {
            RandomNumberGenerator.Fill(span);
        }
        while (CryptographicOperations.FixedTimeEquals(span[..32], span[32..]));
        return key;
    }

    /// <summary>Copies <paramref name="source"/> into a new key (e.g. after unwrapping). The caller zeroes its copy.</summary>
    public static DataKey FromBytes(ReadOnlySpan<byte> source)
    {
        if (source.Length != SizeBytes)
        {
            throw new ArgumentException($"A data key is {SizeBytes} bytes.", nameof(source));
        }

        if (CryptographicOperations.FixedTimeEquals(source[..32], source[32..]))
        {
            // IEEE 1619-2007 does not forbid it, but equal halves void XTS's security argument.
            throw new ArgumentException("The two halves of an XTS key must differ.", nameof(source));
        }

        var key = new DataKey();
        source.CopyTo(key.Span);
        return key;
    }

    public bool IsDisposed => _bytes == null;

    /// <summary>
    /// Gives the raw bytes to <paramref name="use"/> for the duration of the call only (wrapping,
    /// loading into a cipher). Callers must not copy them anywhere that outlives the call.
    /// </summary>
    public TResult UseBytes<TState, TResult>(TState state, KeyBytesFunc<TState, TResult> use)
        where TState : allows ref struct
    {
        ArgumentNullException.ThrowIfNull(use);
        return use(Span, state);
    }

    internal ReadOnlySpan<byte> Bytes => Span;

    private Span<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_bytes == null, this);
            return new Span<byte>(_bytes, SizeBytes);
        }
    }

    public override string ToString() => "DataKey(redacted)";

    public void Dispose()
    {
        var bytes = _bytes;
        if (bytes == null)
        {
            return;
        }

        _bytes = null;
        CryptographicOperations.ZeroMemory(new Span<byte>(bytes, SizeBytes));
        NativeMemory.AlignedFree(bytes);
        GC.SuppressFinalize(this);
    }

    ~DataKey()
    {
        Dispose();
    }

    private sealed class RefuseToSerializeConverter : JsonConverter<DataKey>
    {
        public override DataKey Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
            throw new NotSupportedException("Data keys are never deserialized.");

        public override void Write(System.Text.Json.Utf8JsonWriter writer, DataKey value, System.Text.Json.JsonSerializerOptions options) =>
            throw new NotSupportedException("Data keys are never serialized.");
    }
}

public delegate TResult KeyBytesFunc<TState, TResult>(ReadOnlySpan<byte> keyBytes, TState state)
    where TState : allows ref struct;
