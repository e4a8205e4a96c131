// XtsAes256 against OpenSSL's EVP_aes_256_xts (the Baseline, so Ratio = ours / OpenSSL's time) on
// the same 64-byte-aligned buffers, same unit indexes, one thread. The budget: Ratio <= 1.11
// (at least 0.9x OpenSSL's throughput) and 0 bytes allocated per call. Results: docs/crypto.md.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Xts;

namespace Ironclad.Benchmarks.Crypto;

[MemoryDiagnoser]
[MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime; [GlobalCleanup] disposes.")]
public unsafe class XtsBenchmarks
{
    private const ulong FirstUnitIndex = 0x1234_5678;

    private DataKey? _key;
    private XtsAes256? _cipher;
    private OpenSslXts? _openSsl;
    private byte* _plaintext;
    private byte* _ciphertext;
    private byte* _output;

    /// <summary>64 KiB (16 data units) and 1 MiB (256 data units).</summary>
    [Params(4 * 1024, 64 * 1024, 1024 * 1024)]
    public int SizeBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _key = DataKey.Generate();
        _cipher = new XtsAes256(_key);
        _openSsl = new OpenSslXts(_key.Bytes);
        _plaintext = (byte*)NativeMemory.AlignedAlloc((nuint)SizeBytes, 64);
        _ciphertext = (byte*)NativeMemory.AlignedAlloc((nuint)SizeBytes, 64);
        _output = (byte*)NativeMemory.AlignedAlloc((nuint)SizeBytes, 64);
        RandomNumberGenerator.Fill(new Span<byte>(_plaintext, SizeBytes));

        // Both sides must compute the same function, or the ratio means nothing.
        _openSsl.Encrypt(_plaintext, _ciphertext, SizeBytes, FirstUnitIndex);
        _cipher.Encrypt(new ReadOnlySpan<byte>(_plaintext, SizeBytes), new Span<byte>(_output, SizeBytes), FirstUnitIndex);
        if (!new Span<byte>(_output, SizeBytes).SequenceEqual(new Span<byte>(_ciphertext, SizeBytes)))
        {
            throw new InvalidOperationException("XtsAes256 and OpenSSL disagree; not benchmarking.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cipher?.Dispose();
        _openSsl?.Dispose();
        _key?.Dispose();
        NativeMemory.AlignedFree(_plaintext);
        NativeMemory.AlignedFree(_ciphertext);
        NativeMemory.AlignedFree(_output);
    }

    [Benchmark(Baseline = true, Description = "OpenSSL EVP_aes_256_xts")]
    [BenchmarkCategory("Encrypt")]
    public void OpenSslEncrypt() => _openSsl!.Encrypt(_plaintext, _output, SizeBytes, FirstUnitIndex);

    [Benchmark(Description = "XtsAes256")]
    [BenchmarkCategory("Encrypt")]
    public void XtsAes256Encrypt() =>
        _cipher!.Encrypt(new ReadOnlySpan<byte>(_plaintext, SizeBytes), new Span<byte>(_output, SizeBytes), FirstUnitIndex);

    [Benchmark(Baseline = true, Description = "OpenSSL EVP_aes_256_xts")]
    [BenchmarkCategory("Decrypt")]
    public void OpenSslDecrypt() => _openSsl!.Decrypt(_ciphertext, _output, SizeBytes, FirstUnitIndex);

    [Benchmark(Description = "XtsAes256")]
    [BenchmarkCategory("Decrypt")]
    public void XtsAes256Decrypt() =>
        _cipher!.Decrypt(new ReadOnlySpan<byte>(_ciphertext, SizeBytes), new Span<byte>(_output, SizeBytes), FirstUnitIndex);
}
