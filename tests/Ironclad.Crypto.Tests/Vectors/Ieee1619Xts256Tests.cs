// Known answers: IEEE 1619-2007 Annex B, XTS-AES-256 Vectors 10-14 (512-byte data units), through
// XtsAes256 and through both oracles, so an oracle that drifts is caught before it vouches for anything.
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Tests.Support;
using Ironclad.Crypto.Xts;

namespace Ironclad.Crypto.Tests.Vectors;

public sealed class Ieee1619Xts256Tests
{
    public static TheoryData<int> VectorNumbers => [10, 11, 12, 13, 14];

    [Theory]
    [MemberData(nameof(VectorNumbers))]
    public void Encrypt_matches_the_IEEE_1619_vector(int number)
    {
        var vector = Ieee1619Xts256Vectors.Get(number);
        using var key = DataKey.FromBytes(vector.Key);
        using var cipher = new XtsAes256(key);
        var ciphertext = new byte[vector.Plaintext.Length];

        cipher.EncryptDataUnit(vector.Plaintext, ciphertext, vector.DataUnitSequenceNumber);

        ByteAssert.Equal(vector.Ciphertext, ciphertext, $"IEEE 1619-2007 vector {number}");
    }

    [Theory]
    [MemberData(nameof(VectorNumbers))]
    public void Decrypt_recovers_the_IEEE_1619_plaintext(int number)
    {
        var vector = Ieee1619Xts256Vectors.Get(number);
        using var key = DataKey.FromBytes(vector.Key);
        using var cipher = new XtsAes256(key);
        var plaintext = vector.Ciphertext;

        cipher.DecryptDataUnit(plaintext, plaintext, vector.DataUnitSequenceNumber);

        ByteAssert.Equal(vector.Plaintext, plaintext, $"IEEE 1619-2007 vector {number}, decrypted in place");
    }

    [Theory]
    [MemberData(nameof(VectorNumbers))]
    public void OpenSSL_oracle_agrees_with_the_IEEE_1619_vector(int number)
    {
        LibCryptoXts.Require();
        var vector = Ieee1619Xts256Vectors.Get(number);
        var ciphertext = new byte[vector.Plaintext.Length];

        LibCryptoXts.TransformDataUnit(encrypt: true, vector.Key, vector.Iv, vector.Plaintext, ciphertext);

        ByteAssert.Equal(vector.Ciphertext, ciphertext, $"OpenSSL on IEEE 1619-2007 vector {number}");
    }

    [Theory]
    [MemberData(nameof(VectorNumbers))]
    public void Reference_oracle_agrees_with_the_IEEE_1619_vector(int number)
    {
        var vector = Ieee1619Xts256Vectors.Get(number);

        var ciphertext = ReferenceXts.Transform(encrypt: true, vector.Key, vector.DataUnitSequenceNumber, vector.Plaintext);

        ByteAssert.Equal(vector.Ciphertext, ciphertext, $"reference XTS on IEEE 1619-2007 vector {number}");
    }
}
