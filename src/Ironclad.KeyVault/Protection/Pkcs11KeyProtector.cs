// HSM mode: the root of trust is an AES-256 key inside a PKCS#11 token (SoftHSM2 in tests), found by
// label and created on first start (CKA_TOKEN, CKA_SENSITIVE, not extractable). Sealing is
// CKM_AES_GCM inside the token; the format is 0x81 || IV (12) || ciphertext || tag (16), and the
// token authenticates 0x81 || associated data. Invariants: the root key never leaves the token; a
// tampered blob or other associated data fails Unseal with CryptographicException; the PIN is used
// once at start and never kept, logged or quoted.
using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Ironclad.KeyVault.Protection;

public sealed class Pkcs11KeyProtector : IKeyProtector
{
    /// <summary>Label of the AES-256 key that seals software keys (CKM_AES_GCM).</summary>
    public const string RootKeyLabel = "ironclad-keyvault-root";

    /// <summary>Label of the AES-256 key that wraps RSA-HSM keys for backup (CKM_AES_KEY_WRAP_PAD); kept apart from the sealing key.</summary>
    public const string BackupWrapKeyLabel = "ironclad-keyvault-backup-wrap";

    /// <summary>First byte of a blob sealed in a token (0x01 is the root key file's format).</summary>
    public const byte FormatVersion = 0x81;

    private const int IvBytes = 12;
    private const int TagBytes = 16;
    private const int OverheadBytes = 1 + IvBytes + TagBytes;

    private readonly Pkcs11Module _module;
    private readonly Pkcs11SessionPool _sessions;
    private readonly ulong _rootKey;
    private readonly Pkcs11HsmKeyStore _hsm;
    private int _disposed;

    /// <summary>Opens <paramref name="modulePath"/>, logs in to the token labeled <paramref name="tokenLabel"/> and finds (or creates) the root keys.</summary>
    /// <param name="pin">The user PIN; copied for the login and then zeroed, never kept.</param>
    /// <exception cref="Pkcs11SetupException">Bad module, no such token, wrong PIN, or the token cannot hold the root keys.</exception>
    public Pkcs11KeyProtector(string modulePath, string tokenLabel, ReadOnlySpan<byte> pin)
    {
        ArgumentException.ThrowIfNullOrEmpty(modulePath);
        ArgumentException.ThrowIfNullOrEmpty(tokenLabel);
        TokenLabel = tokenLabel;
        _module = Pkcs11Module.Acquire(modulePath);
        try
        {
            var slot = FindSlot(_module, tokenLabel);
            _sessions = new Pkcs11SessionPool(slot, tokenLabel, pin);
            try
            {
                _rootKey = FindOrCreateAesKey(RootKeyLabel, wrapping: false);
                var wrapKey = FindOrCreateAesKey(BackupWrapKeyLabel, wrapping: true);
                _hsm = new Pkcs11HsmKeyStore(_module.Factories, _sessions, wrapKey);
            }
            catch
            {
                _sessions.Dispose();
                throw;
            }
        }
        catch
        {
            _module.Dispose();
            throw;
        }
    }

    public string Mode => "pkcs11";

    /// <summary>The label of the token in use (for the start log).</summary>
    public string TokenLabel { get; }

    public IHsmKeyStore? Hsm => _hsm;

    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var iv = RandomNumberGenerator.GetBytes(IvBytes);
        var aad = AuthenticatedData(associatedData);
        var input = plaintext.ToArray();
        try
        {
            var output = _sessions.Run(session =>
            {
                using var parameters = _module.Factories.MechanismParamsFactory.CreateCkGcmParams(iv, IvBytes * 8, aad, TagBytes * 8);
                using var mechanism = _module.Factories.MechanismFactory.Create(CKM.CKM_AES_GCM, parameters);
                return session.Encrypt(mechanism, Handle(_rootKey), input);
            });
            if (output.Length != input.Length + TagBytes)
            {
                throw new CryptographicException("The token returned an AES-GCM ciphertext of an unexpected length.");
            }

            var sealedBlob = new byte[OverheadBytes + input.Length];
            sealedBlob[0] = FormatVersion;
            iv.CopyTo(sealedBlob, 1);
            output.CopyTo(sealedBlob, 1 + IvBytes);
            return sealedBlob;
        }
        catch (Pkcs11Exception e)
        {
            throw new CryptographicException($"The token could not seal ({e.RV}).", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
    }

    public byte[] Unseal(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (sealedBlob.Length < OverheadBytes || sealedBlob[0] != FormatVersion)
        {
            throw new CryptographicException("Sealed key material failed authentication.");
        }

        var iv = sealedBlob.Slice(1, IvBytes).ToArray();
        var input = sealedBlob[(1 + IvBytes)..].ToArray();
        var aad = AuthenticatedData(associatedData);
        try
        {
            var plaintext = _sessions.Run(session =>
            {
                using var parameters = _module.Factories.MechanismParamsFactory.CreateCkGcmParams(iv, IvBytes * 8, aad, TagBytes * 8);
                using var mechanism = _module.Factories.MechanismFactory.Create(CKM.CKM_AES_GCM, parameters);
                return session.Decrypt(mechanism, Handle(_rootKey), input);
            });
            return plaintext.Length == input.Length - TagBytes
                ? plaintext
                : throw new CryptographicException("Sealed key material failed authentication.");
        }
        catch (Pkcs11Exception e)
        {
            // SoftHSM2 2.6.1 reports a tag mismatch as CKR_GENERAL_ERROR, others as CKR_ENCRYPTED_DATA_INVALID.
            throw new CryptographicException("Sealed key material failed authentication.", e);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sessions.Dispose();
        _module.Dispose();
    }

    private static ISlot FindSlot(Pkcs11Module module, string tokenLabel)
    {
        List<ISlot> slots;
        try
        {
            slots = module.Library.GetSlotList(SlotsType.WithTokenPresent);
        }
        catch (Pkcs11Exception e)
        {
            throw new Pkcs11SetupException($"the PKCS#11 module '{module.Path}' cannot list its slots ({e.RV})", e);
        }

        var labels = new List<string>();
        var matches = new List<ISlot>();
        foreach (var slot in slots)
        {
            ITokenInfo info;
            try
            {
                info = slot.GetTokenInfo();
            }
            catch (Pkcs11Exception)
            {
                continue;
            }

            if (!info.TokenFlags.TokenInitialized)
            {
                continue;
            }

            var label = info.Label.TrimEnd(' ', '\0');
            labels.Add(label);
            if (string.Equals(label, tokenLabel, StringComparison.Ordinal))
            {
                matches.Add(slot);
            }
        }

        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new Pkcs11SetupException(
                $"the PKCS#11 module '{module.Path}' has no initialized token labeled '{tokenLabel}'"
                + (labels.Count == 0 ? " (it has no initialized token)" : $" (its tokens: {string.Join(", ", labels.Select(l => $"'{l}'"))})")),
            _ => throw new Pkcs11SetupException($"the PKCS#11 module '{module.Path}' has {matches.Count} tokens labeled '{tokenLabel}'; labels must be unique"),
        };
    }

    private static byte[] AuthenticatedData(ReadOnlySpan<byte> associatedData)
    {
        var aad = new byte[1 + associatedData.Length];
        aad[0] = FormatVersion;
        associatedData.CopyTo(aad.AsSpan(1));
        return aad;
    }

    private IObjectHandle Handle(ulong objectId) => _module.Factories.ObjectHandleFactory.Create(objectId);

    private ulong FindOrCreateAesKey(string label, bool wrapping)
    {
        var attributes = _module.Factories.ObjectAttributeFactory;
        try
        {
            return _sessions.Run(session =>
            {
                var found = session.FindAllObjects(
                [
                    attributes.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                    attributes.Create(CKA.CKA_LABEL, label),
                ]);
                if (found.Count > 1)
                {
                    throw new Pkcs11SetupException($"token '{TokenLabel}' holds {found.Count} keys labeled '{label}'; there must be one");
                }

                if (found.Count == 1)
                {
                    var existing = session.GetAttributeValue(found[0], [CKA.CKA_KEY_TYPE, CKA.CKA_VALUE_LEN]);
                    if (existing[0].GetValueAsUlong() != (ulong)CKK.CKK_AES || existing[1].GetValueAsUlong() != 32)
                    {
                        throw new Pkcs11SetupException($"the key labeled '{label}' in token '{TokenLabel}' is not an AES-256 key");
                    }

                    return found[0].ObjectId;
                }

                using var mechanism = _module.Factories.MechanismFactory.Create(CKM.CKM_AES_KEY_GEN);
                var created = session.GenerateKey(mechanism,
                [
                    attributes.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                    attributes.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
                    attributes.Create(CKA.CKA_VALUE_LEN, 32UL),
                    attributes.Create(CKA.CKA_LABEL, label),
                    attributes.Create(CKA.CKA_ID, RandomNumberGenerator.GetBytes(16)),
                    attributes.Create(CKA.CKA_TOKEN, true),
                    attributes.Create(CKA.CKA_PRIVATE, true),
                    attributes.Create(CKA.CKA_SENSITIVE, true),
                    attributes.Create(CKA.CKA_EXTRACTABLE, false),
                    attributes.Create(CKA.CKA_MODIFIABLE, false),
                    attributes.Create(CKA.CKA_ENCRYPT, !wrapping),
                    attributes.Create(CKA.CKA_DECRYPT, !wrapping),
                    attributes.Create(CKA.CKA_WRAP, wrapping),
                    attributes.Create(CKA.CKA_UNWRAP, wrapping),
                    attributes.Create(CKA.CKA_SIGN, false),
                    attributes.Create(CKA.CKA_VERIFY, false),
                    attributes.Create(CKA.CKA_DERIVE, false),
                ]);
                return created.ObjectId;
            });
        }
        catch (Pkcs11Exception e)
        {
            throw new Pkcs11SetupException($"token '{TokenLabel}' cannot find or create its key '{label}' ({e.RV})", e);
        }
    }
}
