// The RS256 key ring: one current signing key (RSA 2048) and the retired keys whose tokens may
// still be alive. Private keys are stored only sealed (AES-256-GCM, associated data = key id) under
// the identity root key. Invariants: exactly one key signs at a time; after a rollover a retired key
// keeps verifying for the token lifetime plus clock skew, so no valid token breaks; JWKS publishes
// public parts only.
using System.Security.Cryptography;
using System.Text;
using Ironclad.Crypto.Sealing;
using Ironclad.Identity.Store;
using Microsoft.IdentityModel.Tokens;

namespace Ironclad.Identity.Signing;

public sealed class SigningKeys : IDisposable
{
    public const int KeySizeBits = 2048;

    private readonly IIdentityStore _store;
    private readonly Sealer _sealer;
    private readonly IdentityOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private List<LoadedKey> _keys = [];

    public SigningKeys(IIdentityStore store, Sealer sealer, IdentityOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(sealer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _sealer = sealer;
        _options = options;
        _time = time;
        lock (_lock)
        {
            Reload();
            if (_keys.All(k => k.Record.RetiredOn is not null))
            {
                CreateKey();
                Reload();
            }
        }
    }

    /// <summary>The key that signs new tokens.</summary>
    public RsaSecurityKey Current
    {
        get
        {
            lock (_lock)
            {
                return _keys.Last(k => k.Record.RetiredOn is null).Key;
            }
        }
    }

    /// <summary>Keys that verify signatures now: the current one and retired ones within token lifetime + skew.</summary>
    public IReadOnlyList<RsaSecurityKey> ValidationKeys
    {
        get
        {
            var horizon = _time.GetUtcNow() - _options.TokenLifetime - _options.ClockSkew;
            lock (_lock)
            {
                return [.. _keys.Where(k => k.Record.RetiredOn is not { } retired || retired > horizon).Select(k => k.Key)];
            }
        }
    }

    /// <summary>Creates a new signing key and retires the current one (it keeps verifying its tokens).</summary>
    public string Rotate()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            foreach (var key in _keys.Where(k => k.Record.RetiredOn is null))
            {
                _store.RetireSigningKey(key.Record.KeyId, now);
            }

            var keyId = CreateKey();
            Reload();
            return keyId;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var key in _keys)
            {
                key.Rsa.Dispose();
            }

            _keys = [];
        }
    }

    private string CreateKey()
    {
        using var rsa = RSA.Create(KeySizeBits);
        var keyId = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16));
        var privateKey = rsa.ExportPkcs8PrivateKey();
        try
        {
            _store.AddSigningKey(new SigningKeyRecord(keyId, _sealer.Seal(privateKey, Encoding.UTF8.GetBytes(keyId)), _time.GetUtcNow(), null));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }

        return keyId;
    }

    private void Reload()
    {
        // Keys already loaded are reused, never disposed here: a request may be signing with one.
        var loaded = new List<LoadedKey>();
        foreach (var record in _store.ListSigningKeys())
        {
            if (_keys.Find(k => k.Record.KeyId == record.KeyId) is { } existing)
            {
                loaded.Add(existing with { Record = record });
                continue;
            }

            if (!_sealer.TryUnseal(record.SealedPrivateKey, Encoding.UTF8.GetBytes(record.KeyId), out var privateKey))
            {
                throw new CryptographicException($"Signing key {record.KeyId} cannot be unsealed: the identity root key does not match the database.");
            }

            try
            {
                var rsa = RSA.Create();
                rsa.ImportPkcs8PrivateKey(privateKey, out _);
                loaded.Add(new LoadedKey(record, rsa, new RsaSecurityKey(rsa) { KeyId = record.KeyId }));
            }
            finally
            {
                CryptographicOperations.ZeroMemory(privateKey);
            }
        }

        _keys = loaded;
    }

    private sealed record LoadedKey(SigningKeyRecord Record, RSA Rsa, RsaSecurityKey Key);
}
