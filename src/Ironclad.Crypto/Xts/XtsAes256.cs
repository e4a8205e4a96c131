// XTS-AES-256 (IEEE 1619-2007) over whole 4096-byte data units, on the CPU's AES instructions.
// Invariants: the expanded keys live only in native memory owned by this instance; they are zeroed
// and freed exactly once, after the last call in flight has returned, so no call ever runs on a
// zeroed or freed schedule; an instance is immutable after construction and thus thread-safe.
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using Ironclad.Crypto.Keys;

namespace Ironclad.Crypto.Xts;

/// <summary>
/// The production <see cref="IDataUnitCipher"/>: XTS-AES-256 with Key1 = the first 32 bytes of the
/// <see cref="DataKey"/> (data) and Key2 = the last 32 (tweak), IEEE 1619-2007 §5.1. The tweak of a
/// data unit is its index as a 128-bit little-endian integer, which is also OpenSSL's XTS IV.
/// </summary>
/// <remarks>
/// One instance may be used by any number of threads at once. <see cref="Dispose"/> may race with
/// calls in flight: those finish with the real keys and the schedule is zeroed when the last one
/// returns; calls that start after <see cref="Dispose"/> throw <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed unsafe class XtsAes256 : IDataUnitCipher, IDisposable
{
    /// <summary>IEEE 1619-2007 §5.1: a data unit should hold at most 2^20 blocks.</summary>
    internal const int DataUnitBlocksMax = 1 << 20;

    internal const int BlockSizeBytes = 16;

    private const int Key1EncryptOffset = 0;
    private const int Key1DecryptOffset = Aes256.RoundKeyCount;
    private const int Key2EncryptOffset = 2 * Aes256.RoundKeyCount;
    private const int ScheduleSizeBytes = 3 * Aes256.RoundKeyCount * BlockSizeBytes;

    // Calls in flight in the low bits; set once by Dispose. Whoever moves the state to exactly
    // DisposedFlag (Dispose with nothing in flight, or the last call out) releases the schedule.
    private const int DisposedFlag = 1 << 30;

    private nint _schedule;
    private int _state;

    public XtsAes256(DataKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!Aes256.IsSupported)
        {
            // No fallback on purpose: a table-based software AES leaks key bits through cache timing.
            throw new PlatformNotSupportedException(
                "XtsAes256 needs the x86 AES-NI instructions, which this CPU or runtime does not expose " +
                "(check the CPU flags and that DOTNET_EnableAES is not 0). There is deliberately no software fallback.");
        }

        var keyBytes = key.Bytes; // throws ObjectDisposedException for a disposed key
        Debug.Assert(keyBytes.Length == 2 * Aes256.KeySizeBytes, "A DataKey is an XTS-AES-256 key pair.");

        var schedule = (Vector128<byte>*)NativeMemory.AlignedAlloc(ScheduleSizeBytes, 64);
        fixed (byte* keyPointer = keyBytes)
        {
            Aes256.ExpandKey(keyPointer, schedule + Key1EncryptOffset);
            Aes256.ExpandKey(keyPointer + Aes256.KeySizeBytes, schedule + Key2EncryptOffset);
        }

        Aes256.InvertKey(schedule + Key1EncryptOffset, schedule + Key1DecryptOffset);
        _schedule = (nint)schedule;
    }

    ~XtsAes256()
    {
        // Unreachable means no call can be in flight (each call keeps `this` alive until it exits).
        ReleaseSchedule();
    }

    /// <summary>Test hook: sees the schedule after it has been zeroed and before it is freed.</summary>
    internal ReadOnlySpanAction<byte, XtsAes256>? ScheduleZeroedForTesting { get; set; }

    /// <summary>True once the key schedule has been zeroed and freed.</summary>
    internal bool IsScheduleReleased => Volatile.Read(ref _schedule) == 0;

    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, ulong firstUnitIndex)
    {
        var unitCount = CountUnits(plaintext, ciphertext, firstUnitIndex, nameof(plaintext), nameof(ciphertext));
        TransformUnits<EncryptRounds>(plaintext, ciphertext, firstUnitIndex, unitCount, Key1EncryptOffset);
    }

    public void Decrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, ulong firstUnitIndex)
    {
        var unitCount = CountUnits(ciphertext, plaintext, firstUnitIndex, nameof(ciphertext), nameof(plaintext));
        TransformUnits<DecryptRounds>(ciphertext, plaintext, firstUnitIndex, unitCount, Key1DecryptOffset);
    }

    /// <summary>
    /// Encrypts one data unit of any whole number of 16-byte blocks under an arbitrary 128-bit tweak
    /// (IEEE 1619-2007 §5.3.2 without its partial-block branch). For the Annex B known-answer tests,
    /// whose data units are 512 bytes and whose tweaks are not unit indexes.
    /// </summary>
    internal void EncryptDataUnit(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, UInt128 tweak)
    {
        var blockCount = CountBlocks(plaintext, ciphertext, nameof(plaintext), nameof(ciphertext));
        TransformDataUnit<EncryptRounds>(plaintext, ciphertext, tweak, blockCount, Key1EncryptOffset);
    }

    /// <summary>Inverse of <see cref="EncryptDataUnit"/> (IEEE 1619-2007 §5.4.2 without ciphertext stealing).</summary>
    internal void DecryptDataUnit(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, UInt128 tweak)
    {
        var blockCount = CountBlocks(ciphertext, plaintext, nameof(ciphertext), nameof(plaintext));
        TransformDataUnit<DecryptRounds>(ciphertext, plaintext, tweak, blockCount, Key1DecryptOffset);
    }

    public void Dispose()
    {
        var prior = Interlocked.Or(ref _state, DisposedFlag);
        if ((prior & DisposedFlag) != 0)
        {
            return;
        }

        GC.SuppressFinalize(this);
        if (prior == 0)
        {
            ReleaseSchedule();
        }
    }

    public override string ToString() => "XtsAes256(redacted)";

    private static int CountUnits(ReadOnlySpan<byte> source, Span<byte> destination, ulong firstUnitIndex, string sourceName, string destinationName)
    {
        if (source.Length % DataUnit.SizeBytes != 0)
        {
            throw new ArgumentException(
                $"The length must be a whole number of {DataUnit.SizeBytes}-byte data units; it is {source.Length} bytes.", sourceName);
        }

        CheckDestination(source, destination, destinationName);
        var unitCount = source.Length >> DataUnit.SizeLog2;
        if (unitCount > 0 && firstUnitIndex > ulong.MaxValue - (ulong)(unitCount - 1))
        {
            // A disk cannot have 2^64 data units; a span that wraps the index is a caller bug.
            throw new ArgumentOutOfRangeException(nameof(firstUnitIndex), firstUnitIndex, "The span runs past data unit 2^64 - 1.");
        }

        return unitCount;
    }

    private static int CountBlocks(ReadOnlySpan<byte> source, Span<byte> destination, string sourceName, string destinationName)
    {
        // Not supported: a partial last block (ciphertext stealing, §5.3.2 steps 3-8). Every data
        // unit Ironclad writes is 4096 bytes, so the branch would be dead code with its own risks.
        if (source.Length == 0 || source.Length % BlockSizeBytes != 0 || source.Length / BlockSizeBytes > DataUnitBlocksMax)
        {
            throw new ArgumentException(
                $"A data unit must be 1 to {DataUnitBlocksMax} whole {BlockSizeBytes}-byte blocks (no ciphertext stealing); it is {source.Length} bytes.",
                sourceName);
        }

        CheckDestination(source, destination, destinationName);
        return source.Length / BlockSizeBytes;
    }

    private static void CheckDestination(ReadOnlySpan<byte> source, Span<byte> destination, string destinationName)
    {
        if (destination.Length != source.Length)
        {
            throw new ArgumentException($"The destination is {destination.Length} bytes; it must be {source.Length}, as the source.", destinationName);
        }

        if (source.Overlaps(destination, out var elementOffset) && elementOffset != 0)
        {
            throw new ArgumentException("The destination must be the same memory as the source or not overlap it.", destinationName);
        }
    }

    [SkipLocalsInit]
    private void TransformUnits<TRounds>(ReadOnlySpan<byte> source, Span<byte> destination, ulong firstUnitIndex, int unitCount, int key1Offset)
        where TRounds : struct, IAesRounds
    {
        var scratch = stackalloc Vector128<byte>[XtsKernel.ScratchBlocks];
        Enter();
        try
        {
            var schedule = (Vector128<byte>*)_schedule;
            fixed (byte* sourcePointer = source)
            fixed (byte* destinationPointer = destination)
            {
                for (var unit = 0; unit < unitCount; unit++)
                {
                    // §5.3.1 step 1: T = AES-enc(Key2, i), i = the unit index as a little-endian 128-bit integer.
                    var index = Vector128.Create(firstUnitIndex + (ulong)unit, 0UL).AsByte();
                    var tweak = Aes256.EncryptBlock(index, schedule + Key2EncryptOffset);
                    var offsetBytes = (nint)unit * DataUnit.SizeBytes;
                    XtsKernel.Transform<TRounds>(
                        sourcePointer + offsetBytes,
                        destinationPointer + offsetBytes,
                        DataUnit.SizeBytes / BlockSizeBytes,
                        tweak,
                        schedule + key1Offset,
                        scratch);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(new Span<byte>(scratch, XtsKernel.ScratchBlocks * BlockSizeBytes));
            Exit();
        }
    }

    [SkipLocalsInit]
    private void TransformDataUnit<TRounds>(ReadOnlySpan<byte> source, Span<byte> destination, UInt128 tweakValue, int blockCount, int key1Offset)
        where TRounds : struct, IAesRounds
    {
        var scratch = stackalloc Vector128<byte>[XtsKernel.ScratchBlocks];
        Enter();
        try
        {
            var schedule = (Vector128<byte>*)_schedule;
            var index = Vector128.Create(unchecked((ulong)tweakValue), unchecked((ulong)(tweakValue >> 64))).AsByte();
            var tweak = Aes256.EncryptBlock(index, schedule + Key2EncryptOffset);
            fixed (byte* sourcePointer = source)
            fixed (byte* destinationPointer = destination)
            {
                XtsKernel.Transform<TRounds>(sourcePointer, destinationPointer, (nuint)blockCount, tweak, schedule + key1Offset, scratch);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(new Span<byte>(scratch, XtsKernel.ScratchBlocks * BlockSizeBytes));
            Exit();
        }
    }

    private void Enter()
    {
        var state = Volatile.Read(ref _state);
        while (true)
        {
            ObjectDisposedException.ThrowIf((state & DisposedFlag) != 0, this);
            var seen = Interlocked.CompareExchange(ref _state, state + 1, state);
            if (seen == state)
            {
                return;
            }

            state = seen;
        }
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _state) == DisposedFlag)
        {
            ReleaseSchedule();
        }
    }

    private void ReleaseSchedule()
    {
        var schedule = Interlocked.Exchange(ref _schedule, 0);
        if (schedule == 0)
        {
            return;
        }

        var bytes = new Span<byte>((void*)schedule, ScheduleSizeBytes);
        CryptographicOperations.ZeroMemory(bytes);
        ScheduleZeroedForTesting?.Invoke(bytes, this);
        NativeMemory.AlignedFree((void*)schedule);
    }
}
