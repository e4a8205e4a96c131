// The XTS-AES inner loop (IEEE 1619-2007 §5.3.1 / §5.4.1) for one data unit of whole 16-byte blocks.
// Invariants: block j is transformed under T·α^j where T = AES-enc(Key2, i) is given by the caller;
// source may equal destination (each batch is read before it is written); constant time.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ironclad.Crypto.Xts;

internal static unsafe class XtsKernel
{
    /// <summary>Blocks in flight per batch: enough independent AESENC chains to hide the instruction's latency.</summary>
    internal const int BatchBlocks = 8;

    /// <summary>Scratch the caller provides: two batches of tweaks (the one in use and the next).</summary>
    internal const int ScratchBlocks = 2 * BatchBlocks;

    /// <summary>
    /// Transforms <paramref name="blockCount"/> 16-byte blocks. <paramref name="roundKeys"/> is Key1's
    /// schedule for the direction <typeparamref name="TRounds"/>; <paramref name="scratch"/> holds
    /// <see cref="ScratchBlocks"/> blocks that the caller zeroes after its last call.
    /// </summary>
    /// <remarks>
    /// The tweak sequence is computed with scalar integer instructions and handed over through
    /// <paramref name="scratch"/> one batch ahead: the integer ALUs are otherwise idle while the vector
    /// units run AESENC, whereas doubling tweaks with vector instructions competes with AESENC for the
    /// same ports and cost about a quarter of the throughput on Zen 3 (see docs/crypto.md).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Transform<TRounds>(
        byte* source, byte* destination, nuint blockCount, Vector128<byte> tweak, Vector128<byte>* roundKeys, Vector128<byte>* scratch)
        where TRounds : struct, IAesRounds
    {
        // The project compiles with overflow checks; here they would put a compare-and-branch on every
        // pointer step of the hot loop. Offsets stay below blockCount * 16, which the caller validated.
        Debug.Assert(blockCount is > 0 and <= XtsAes256.DataUnitBlocksMax, "one data unit of 1 to 2^20 blocks");
        unchecked
        {
            var next = WriteTweaks(scratch, tweak.AsUInt64().ToScalar(), tweak.AsUInt64().GetElement(1));

            var batchCount = blockCount / BatchBlocks;
            for (nuint batch = 0; batch < batchCount; batch++)
            {
                var tweaks = scratch + ((batch & 1) * BatchBlocks);
                var key = roundKeys[0];
                var b0 = Sse2.LoadVector128(source) ^ tweaks[0] ^ key;
                var b1 = Sse2.LoadVector128(source + 16) ^ tweaks[1] ^ key;
                var b2 = Sse2.LoadVector128(source + 32) ^ tweaks[2] ^ key;
                var b3 = Sse2.LoadVector128(source + 48) ^ tweaks[3] ^ key;
                var b4 = Sse2.LoadVector128(source + 64) ^ tweaks[4] ^ key;
                var b5 = Sse2.LoadVector128(source + 80) ^ tweaks[5] ^ key;
                var b6 = Sse2.LoadVector128(source + 96) ^ tweaks[6] ^ key;
                var b7 = Sse2.LoadVector128(source + 112) ^ tweaks[7] ^ key;
                key = roundKeys[1];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[2];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[3];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[4];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[5];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[6];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                // Tweaks for the next batch, on the integer units while these AES rounds are in flight.
                next = WriteTweaks(scratch + (((batch + 1) & 1) * BatchBlocks), next.Lo, next.Hi);

                key = roundKeys[7];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[8];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[9];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[10];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[11];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[12];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                key = roundKeys[13];
                b0 = TRounds.Round(b0, key);
                b1 = TRounds.Round(b1, key);
                b2 = TRounds.Round(b2, key);
                b3 = TRounds.Round(b3, key);
                b4 = TRounds.Round(b4, key);
                b5 = TRounds.Round(b5, key);
                b6 = TRounds.Round(b6, key);
                b7 = TRounds.Round(b7, key);
                // The final "xor T" of §5.3.1 step 4 (§5.4.1 step 4) is folded into the last round key.
                key = roundKeys[Aes256.RoundKeyCount - 1];
                Sse2.Store(destination, TRounds.LastRound(b0, key ^ tweaks[0]));
                Sse2.Store(destination + 16, TRounds.LastRound(b1, key ^ tweaks[1]));
                Sse2.Store(destination + 32, TRounds.LastRound(b2, key ^ tweaks[2]));
                Sse2.Store(destination + 48, TRounds.LastRound(b3, key ^ tweaks[3]));
                Sse2.Store(destination + 64, TRounds.LastRound(b4, key ^ tweaks[4]));
                Sse2.Store(destination + 80, TRounds.LastRound(b5, key ^ tweaks[5]));
                Sse2.Store(destination + 96, TRounds.LastRound(b6, key ^ tweaks[6]));
                Sse2.Store(destination + 112, TRounds.LastRound(b7, key ^ tweaks[7]));
                source += BatchBlocks * 16;
                destination += BatchBlocks * 16;
            }

            // Fewer than a batch left (only in data units that are not a multiple of 128 bytes): their
            // tweaks are already in the half of scratch the loop would have used next.
            var tail = scratch + ((batchCount & 1) * BatchBlocks);
            for (nuint block = 0; block < blockCount % BatchBlocks; block++)
            {
                var state = Sse2.LoadVector128(source) ^ tail[block] ^ roundKeys[0];
                for (var round = 1; round < Aes256.RoundKeyCount - 1; round++)
                {
                    state = TRounds.Round(state, roundKeys[round]);
                }

                Sse2.Store(destination, TRounds.LastRound(state, roundKeys[Aes256.RoundKeyCount - 1] ^ tail[block]));
                source += 16;
                destination += 16;
            }
        }
    }

    /// <summary>
    /// Writes the tweaks T, T·α, ..., T·α^7 (T = hi:lo, a 128-bit little-endian integer) and returns T·α^8.
    /// Multiplying by α is IEEE 1619-2007 §5.2: shift left one bit; if bit 127 fell off, xor 135 into byte 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (ulong Lo, ulong Hi) WriteTweaks(Vector128<byte>* batch, ulong lo, ulong hi)
    {
        unchecked
        {
            var words = (ulong*)batch;
            for (var block = 0; block < BatchBlocks; block++)
            {
                words[2 * block] = lo;
                words[(2 * block) + 1] = hi;
                var reduction = (ulong)((long)hi >> 63) & 0x87; // all ones or all zeros: no branch
                hi = (hi << 1) | (lo >> 63);
                lo = (lo << 1) ^ reduction;
            }

            return (lo, hi);
        }
    }
}
