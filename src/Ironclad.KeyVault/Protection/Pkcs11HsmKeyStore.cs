// RSA-HSM keys: RSA private keys generated (or imported) as token objects and used only inside the
// token. A key's handle is its random 16-byte CKA_ID in hex. Private keys are CKA_SENSITIVE (never
// readable in plaintext) and CKA_EXTRACTABLE only so the token's backup key can wrap them
// (CKM_AES_KEY_WRAP_PAD). Invariants: no private key material is ever returned or logged; every
// decryption failure surfaces as one CryptographicException with one message, whatever the cause.
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Ironclad.KeyVault.Keys;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Net.Pkcs11Interop.HighLevelAPI.Factories;
using Net.Pkcs11Interop.HighLevelAPI.MechanismParams;

namespace Ironclad.KeyVault.Protection;

internal sealed class Pkcs11HsmKeyStore : IHsmKeyStore
{
    /// <summary>First byte of an <see cref="ExportWrapped"/> blob: AES-KWP (RFC 5649) of the PKCS#8 key under the backup key.</summary>
    public const byte WrappedFormatVersion = 0x01;

    private const string DecryptionFailed = "The ciphertext could not be decrypted.";
    private const int IdBytes = 16;

    // DER DigestInfo prefixes (RFC 8017 §9.2 note 1) for EMSA-PKCS1-v1_5 over a digest.
    private static readonly byte[] Sha256DigestInfo = Convert.FromHexString("3031300d060960864801650304020105000420");
    private static readonly byte[] Sha384DigestInfo = Convert.FromHexString("3041300d060960864801650304020205000430");
    private static readonly byte[] Sha512DigestInfo = Convert.FromHexString("3051300d060960864801650304020305000440");

    private readonly Pkcs11InteropFactories _factories;
    private readonly Pkcs11SessionPool _sessions;
    private readonly ulong _wrapKey;
    private readonly ConcurrentDictionary<string, KeyEntry> _keys = new(StringComparer.Ordinal);

    private const int OaepSha256Unknown = 0;
    private const int OaepSha256Token = 1;
    private const int OaepSha256Software = 2;

    // Unknown until the first RSA-OAEP-256 decryption tells whether the token takes SHA-256 OAEP parameters.
    private int _oaepSha256 = OaepSha256Unknown;

    public Pkcs11HsmKeyStore(Pkcs11InteropFactories factories, Pkcs11SessionPool sessions, ulong wrapKey)
    {
        _factories = factories;
        _sessions = sessions;
        _wrapKey = wrapKey;
    }

    /// <summary>Whether RSA-OAEP-256 runs as CKM_RSA_PKCS_OAEP in the token (true), as raw RSA plus software OAEP decoding (false), or is not yet known (null).</summary>
    public bool? OaepSha256InToken => Volatile.Read(ref _oaepSha256) switch
    {
        OaepSha256Token => true,
        OaepSha256Software => false,
        _ => null,
    };

    private IObjectAttributeFactory Attributes => _factories.ObjectAttributeFactory;

    public HsmKeyReference Generate(int keySizeBits, int publicExponent)
    {
        if (keySizeBits is not (2048 or 3072 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(keySizeBits), keySizeBits, "RSA-HSM keys are 2048, 3072 or 4096 bits.");
        }

        if (publicExponent < 3 || publicExponent % 2 == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(publicExponent), publicExponent, "The public exponent must be odd and at least 3.");
        }

        var id = RandomNumberGenerator.GetBytes(IdBytes);
        return _sessions.Run(session =>
        {
            using var mechanism = _factories.MechanismFactory.Create(CKM.CKM_RSA_PKCS_KEY_PAIR_GEN);
            List<IObjectAttribute> publicTemplate =
            [
                Attributes.Create(CKA.CKA_TOKEN, false),
                Attributes.Create(CKA.CKA_PRIVATE, false),
                Attributes.Create(CKA.CKA_MODULUS_BITS, (ulong)keySizeBits),
                Attributes.Create(CKA.CKA_PUBLIC_EXPONENT, BigEndian(publicExponent)),
                Attributes.Create(CKA.CKA_ENCRYPT, true),
                Attributes.Create(CKA.CKA_VERIFY, true),
                Attributes.Create(CKA.CKA_ID, id),
            ];
            var privateTemplate = PrivateKeyTemplate(id);
            try
            {
                session.GenerateKeyPair(mechanism, publicTemplate, privateTemplate, out var publicKey, out var privateKey);
                // The public half is a session object used only to learn n and e; the store keeps those.
                session.DestroyObject(publicKey);
                return Remember(session, Hex(id), privateKey);
            }
            finally
            {
                DisposeAll(publicTemplate);
                DisposeAll(privateTemplate);
            }
        });
    }

    public HsmKeyReference Import(RSAParameters privateKey)
    {
        if (privateKey.Modulus is null || privateKey.Exponent is null || privateKey.D is null || privateKey.P is null
            || privateKey.Q is null || privateKey.DP is null || privateKey.DQ is null || privateKey.InverseQ is null)
        {
            throw new ArgumentException("An RSA private key needs n, e, d, p, q, dp, dq and qi.", nameof(privateKey));
        }

        var id = RandomNumberGenerator.GetBytes(IdBytes);
        return _sessions.Run(session =>
        {
            var template = PrivateKeyTemplate(id);
            template.AddRange(
            [
                Attributes.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY),
                Attributes.Create(CKA.CKA_KEY_TYPE, CKK.CKK_RSA),
                Attributes.Create(CKA.CKA_MODULUS, privateKey.Modulus),
                Attributes.Create(CKA.CKA_PUBLIC_EXPONENT, privateKey.Exponent),
                Attributes.Create(CKA.CKA_PRIVATE_EXPONENT, privateKey.D),
                Attributes.Create(CKA.CKA_PRIME_1, privateKey.P),
                Attributes.Create(CKA.CKA_PRIME_2, privateKey.Q),
                Attributes.Create(CKA.CKA_EXPONENT_1, privateKey.DP),
                Attributes.Create(CKA.CKA_EXPONENT_2, privateKey.DQ),
                Attributes.Create(CKA.CKA_COEFFICIENT, privateKey.InverseQ),
            ]);
            try
            {
                var created = session.CreateObject(template);
                return Remember(session, Hex(id), created);
            }
            catch (Pkcs11Exception e)
            {
                throw new CryptographicException($"The token refused the RSA private key ({e.RV}).", e);
            }
            finally
            {
                DisposeAll(template);
            }
        });
    }

    public byte[] Decrypt(string handle, string algorithm, ReadOnlySpan<byte> ciphertext)
    {
        var key = Find(handle);
        if (ciphertext.Length != key.ModulusBytes)
        {
            throw new CryptographicException(DecryptionFailed);
        }

        var input = ciphertext.ToArray();
        return algorithm switch
        {
            KeyAlgorithms.Rsa15 => DecryptInToken(key, CKM.CKM_RSA_PKCS, null, input),
            KeyAlgorithms.RsaOaep => DecryptInToken(key, CKM.CKM_RSA_PKCS_OAEP, OaepParameters(CKM.CKM_SHA_1, CKG.CKG_MGF1_SHA1), input),
            KeyAlgorithms.RsaOaep256 => DecryptOaepSha256(key, input),
            _ => throw new ArgumentException($"'{algorithm}' is not an RSA decryption algorithm.", nameof(algorithm)),
        };
    }

    public byte[] SignDigest(string handle, string algorithm, ReadOnlySpan<byte> digest)
    {
        var (hashMechanism, mgf, digestInfo, hashLength, pss) = algorithm switch
        {
            KeyAlgorithms.RS256 => (CKM.CKM_SHA256, CKG.CKG_MGF1_SHA256, Sha256DigestInfo, 32, false),
            KeyAlgorithms.RS384 => (CKM.CKM_SHA384, CKG.CKG_MGF1_SHA384, Sha384DigestInfo, 48, false),
            KeyAlgorithms.RS512 => (CKM.CKM_SHA512, CKG.CKG_MGF1_SHA512, Sha512DigestInfo, 64, false),
            KeyAlgorithms.PS256 => (CKM.CKM_SHA256, CKG.CKG_MGF1_SHA256, Sha256DigestInfo, 32, true),
            KeyAlgorithms.PS384 => (CKM.CKM_SHA384, CKG.CKG_MGF1_SHA384, Sha384DigestInfo, 48, true),
            KeyAlgorithms.PS512 => (CKM.CKM_SHA512, CKG.CKG_MGF1_SHA512, Sha512DigestInfo, 64, true),
            _ => throw new ArgumentException($"'{algorithm}' is not an RSA signature algorithm.", nameof(algorithm)),
        };
        if (digest.Length != hashLength)
        {
            throw new CryptographicException($"A {algorithm} digest is {hashLength} bytes.");
        }

        var key = Find(handle);
        var input = pss ? digest.ToArray() : [.. digestInfo, .. digest];
        try
        {
            return _sessions.Run(session =>
            {
                if (!pss)
                {
                    using var pkcs1 = _factories.MechanismFactory.Create(CKM.CKM_RSA_PKCS);
                    return session.Sign(pkcs1, Handle(key.ObjectId), input);
                }

                using var parameters = _factories.MechanismParamsFactory.CreateCkRsaPkcsPssParams(
                    ConvertUtils.UInt64FromCKM(hashMechanism), ConvertUtils.UInt64FromCKG(mgf), (ulong)hashLength);
                using var mechanism = _factories.MechanismFactory.Create(CKM.CKM_RSA_PKCS_PSS, parameters);
                return session.Sign(mechanism, Handle(key.ObjectId), input);
            });
        }
        catch (Pkcs11Exception e)
        {
            throw new CryptographicException($"The token could not sign ({e.RV}).", e);
        }
    }

    public byte[] ExportWrapped(string handle)
    {
        var key = Find(handle);
        try
        {
            var wrapped = _sessions.Run(session =>
            {
                using var mechanism = _factories.MechanismFactory.Create(CKM.CKM_AES_KEY_WRAP_PAD);
                return session.WrapKey(mechanism, Handle(_wrapKey), Handle(key.ObjectId));
            });
            return [WrappedFormatVersion, .. wrapped];
        }
        catch (Pkcs11Exception e)
        {
            throw new CryptographicException($"The token could not wrap the key ({e.RV}).", e);
        }
    }

    public HsmKeyReference ImportWrapped(ReadOnlySpan<byte> wrapped)
    {
        if (wrapped.Length < 2 || wrapped[0] != WrappedFormatVersion)
        {
            throw new CryptographicException("The wrapped key is not in a format this token wrote.");
        }

        var input = wrapped[1..].ToArray();
        var id = RandomNumberGenerator.GetBytes(IdBytes);
        return _sessions.Run(session =>
        {
            var template = PrivateKeyTemplate(id);
            template.AddRange(
            [
                Attributes.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY),
                Attributes.Create(CKA.CKA_KEY_TYPE, CKK.CKK_RSA),
            ]);
            try
            {
                using var mechanism = _factories.MechanismFactory.Create(CKM.CKM_AES_KEY_WRAP_PAD);
                var unwrapped = session.UnwrapKey(mechanism, Handle(_wrapKey), input, template);
                return Remember(session, Hex(id), unwrapped);
            }
            catch (Pkcs11Exception e)
            {
                throw new CryptographicException($"The wrapped key could not be unwrapped by this token ({e.RV}).", e);
            }
            finally
            {
                DisposeAll(template);
            }
        });
    }

    public void Destroy(string handle)
    {
        var id = ParseHandle(handle);
        _sessions.Run(session =>
        {
            List<IObjectAttribute> search = [Attributes.Create(CKA.CKA_ID, id)];
            try
            {
                foreach (var found in session.FindAllObjects(search))
                {
                    session.DestroyObject(found);
                }
            }
            finally
            {
                DisposeAll(search);
            }
        });
        _keys.TryRemove(handle, out _);
    }

    private static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        var skip = 0;
        while (skip < 3 && bytes[skip] == 0)
        {
            skip++;
        }

        return bytes[skip..];
    }

    private static string Hex(byte[] id) => Convert.ToHexStringLower(id);

    private static byte[] ParseHandle(string handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (handle.Length != IdBytes * 2)
        {
            throw new ArgumentException("An HSM key handle is 32 hex digits.", nameof(handle));
        }

        try
        {
            return Convert.FromHexString(handle);
        }
        catch (FormatException e)
        {
            throw new ArgumentException("An HSM key handle is 32 hex digits.", nameof(handle), e);
        }
    }

    private static void DisposeAll(List<IObjectAttribute> attributes)
    {
        foreach (var attribute in attributes)
        {
            attribute.Dispose();
        }
    }

    private static byte[] LeftPad(byte[] value, int length)
    {
        if (value.Length == length)
        {
            return value;
        }

        var padded = new byte[length];
        value.AsSpan().CopyTo(padded.AsSpan(length - value.Length));
        CryptographicOperations.ZeroMemory(value);
        return padded;
    }

    private byte[] DecryptOaepSha256(KeyEntry key, byte[] input)
    {
        var mode = Volatile.Read(ref _oaepSha256);
        if (mode != OaepSha256Software)
        {
            // Throws the single decryption error when C_Decrypt fails: the token took the parameters, the ciphertext is bad.
            var plaintext = DecryptInToken(key, CKM.CKM_RSA_PKCS_OAEP, OaepParameters(CKM.CKM_SHA256, CKG.CKG_MGF1_SHA256), input,
                throwOnInitFailure: mode == OaepSha256Token);
            if (plaintext is not null)
            {
                Interlocked.CompareExchange(ref _oaepSha256, OaepSha256Token, OaepSha256Unknown);
                return plaintext;
            }

            // C_DecryptInit refused SHA-256 OAEP parameters (SoftHSM2 2.6.1 takes SHA-1 only): remember, fall back.
            Volatile.Write(ref _oaepSha256, OaepSha256Software);
        }

        var raw = DecryptInToken(key, CKM.CKM_RSA_X_509, null, input)!;
        var encoded = LeftPad(raw, key.ModulusBytes);
        try
        {
            return Pkcs11OaepDecoder.TryDecode(encoded, HashAlgorithmName.SHA256, []) ?? throw new CryptographicException(DecryptionFailed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(encoded);
        }
    }

    private byte[] DecryptInToken(KeyEntry key, CKM mechanismType, Func<IMechanismParams>? parameters, byte[] input) =>
        DecryptInToken(key, mechanismType, parameters, input, throwOnInitFailure: true)!;

    /// <summary>
    /// Decrypts in the token. Any failure of C_Decrypt is the single <see cref="DecryptionFailed"/> error; a refusal of the
    /// mechanism parameters by C_DecryptInit returns null when <paramref name="throwOnInitFailure"/> is false.
    /// </summary>
    private byte[]? DecryptInToken(KeyEntry key, CKM mechanismType, Func<IMechanismParams>? parameters, byte[] input, bool throwOnInitFailure)
    {
        try
        {
            return _sessions.Run(session =>
            {
                using var mechanismParameters = parameters?.Invoke();
                using var mechanism = mechanismParameters is null
                    ? _factories.MechanismFactory.Create(mechanismType)
                    : _factories.MechanismFactory.Create(mechanismType, mechanismParameters);
                return session.Decrypt(mechanism, Handle(key.ObjectId), input);
            });
        }
        catch (Pkcs11Exception e) when (!throwOnInitFailure && e.Method == "C_DecryptInit"
            && e.RV is CKR.CKR_ARGUMENTS_BAD or CKR.CKR_MECHANISM_PARAM_INVALID or CKR.CKR_MECHANISM_INVALID)
        {
            return null;
        }
        catch (Pkcs11Exception e)
        {
            throw new CryptographicException(DecryptionFailed, e);
        }
    }

    private Func<IMechanismParams> OaepParameters(CKM hash, CKG mgf) => () =>
        _factories.MechanismParamsFactory.CreateCkRsaPkcsOaepParams(
            ConvertUtils.UInt64FromCKM(hash), ConvertUtils.UInt64FromCKG(mgf), ConvertUtils.UInt64FromUInt32(CKZ.CKZ_DATA_SPECIFIED), null);

    private IObjectHandle Handle(ulong objectId) => _factories.ObjectHandleFactory.Create(objectId);

    /// <summary>The private key template shared by generate, import and unwrap.</summary>
    private List<IObjectAttribute> PrivateKeyTemplate(byte[] id) =>
    [
        Attributes.Create(CKA.CKA_TOKEN, true),
        Attributes.Create(CKA.CKA_PRIVATE, true),
        Attributes.Create(CKA.CKA_SENSITIVE, true),
        Attributes.Create(CKA.CKA_EXTRACTABLE, true),
        Attributes.Create(CKA.CKA_DECRYPT, true),
        Attributes.Create(CKA.CKA_SIGN, true),
        Attributes.Create(CKA.CKA_UNWRAP, false),
        Attributes.Create(CKA.CKA_DERIVE, false),
        Attributes.Create(CKA.CKA_ID, id),
        Attributes.Create(CKA.CKA_LABEL, "ironclad-rsa-" + Hex(id)),
    ];

    private HsmKeyReference Remember(ISession session, string handle, IObjectHandle privateKey)
    {
        var values = session.GetAttributeValue(privateKey, [CKA.CKA_MODULUS, CKA.CKA_PUBLIC_EXPONENT]);
        var modulus = values[0].GetValueAsByteArray();
        var exponent = values[1].GetValueAsByteArray();
        foreach (var value in values)
        {
            value.Dispose();
        }

        _keys[handle] = new KeyEntry(privateKey.ObjectId, modulus.Length);
        return new HsmKeyReference(handle, modulus, exponent);
    }

    private KeyEntry Find(string handle)
    {
        if (_keys.TryGetValue(handle, out var cached))
        {
            return cached;
        }

        var id = ParseHandle(handle);
        var entry = _sessions.Run(session =>
        {
            List<IObjectAttribute> search =
            [
                Attributes.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY),
                Attributes.Create(CKA.CKA_ID, id),
            ];
            try
            {
                var found = session.FindAllObjects(search);
                if (found.Count != 1)
                {
                    throw new CryptographicException($"The token holds no single private key with handle '{handle}' (found {found.Count}).");
                }

                var values = session.GetAttributeValue(found[0], [CKA.CKA_MODULUS]);
                var modulusBytes = values[0].GetValueAsByteArray().Length;
                values[0].Dispose();
                return new KeyEntry(found[0].ObjectId, modulusBytes);
            }
            finally
            {
                DisposeAll(search);
            }
        });
        return _keys.GetOrAdd(handle, entry);
    }

    private sealed record KeyEntry(ulong ObjectId, int ModulusBytes);
}
