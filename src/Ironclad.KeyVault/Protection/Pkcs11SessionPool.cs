// Sessions on one logged-in token. A PKCS#11 session runs one operation at a time and is not
// thread-safe, so every operation rents a session of its own (opened on demand, kept idle for the
// next caller). Invariants: a session is used by one thread at a time; the login session stays open
// for the pool's life (the token logs the application out when its last session closes); the PIN is
// only used during construction and never kept or put in a message.
using System.Collections.Concurrent;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Ironclad.KeyVault.Protection;

internal sealed class Pkcs11SessionPool : IDisposable
{
    /// <summary>Idle sessions kept beyond this many are closed on return (the peak concurrency opens more).</summary>
    private const int MaxIdleSessions = 64;

    private readonly ISlot _slot;
    private readonly ISession _loginSession;
    private readonly ConcurrentBag<ISession> _idle = [];
    private int _idleCount;
    private volatile bool _disposed;

    /// <exception cref="Pkcs11SetupException">The PIN is wrong or locked, or the token refuses a session.</exception>
    public Pkcs11SessionPool(ISlot slot, string tokenLabel, ReadOnlySpan<byte> pin)
    {
        _slot = slot;
        try
        {
            _loginSession = slot.OpenSession(SessionType.ReadWrite);
        }
        catch (Pkcs11Exception e)
        {
            throw new Pkcs11SetupException($"token '{tokenLabel}' refuses a read-write session ({e.RV})", e);
        }

        var pinBytes = pin.ToArray();
        try
        {
            _loginSession.Login(CKU.CKU_USER, pinBytes);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
        {
            // Another user of the same module in this process has logged in to this token already.
        }
        catch (Pkcs11Exception e)
        {
            _loginSession.Dispose();
            var reason = e.RV switch
            {
                CKR.CKR_PIN_INCORRECT => "the PIN is incorrect",
                CKR.CKR_PIN_LOCKED => "the user PIN is locked",
                CKR.CKR_PIN_LEN_RANGE => "the PIN has the wrong length",
                CKR.CKR_USER_PIN_NOT_INITIALIZED => "the token's user PIN is not initialized",
                _ => $"the token refused the login ({e.RV})",
            };
            throw new Pkcs11SetupException($"cannot log in to token '{tokenLabel}': {reason}", e);
        }
        finally
        {
            Array.Clear(pinBytes);
        }
    }

    /// <summary>Runs <paramref name="operation"/> on a session no other thread is using.</summary>
    public T Run<T>(Func<ISession, T> operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var session = Rent();
        var keep = true;
        try
        {
            return operation(session);
        }
        catch (Pkcs11Exception e) when (IsSessionLost(e.RV))
        {
            keep = false;
            throw;
        }
        finally
        {
            Return(session, keep);
        }
    }

    public void Run(Action<ISession> operation) => Run(session =>
    {
        operation(session);
        return true;
    });

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        while (_idle.TryTake(out var session))
        {
            Close(session);
        }

        // Closing the last session logs the application out of the token.
        Close(_loginSession);
    }

    private static bool IsSessionLost(CKR rv) => rv is CKR.CKR_SESSION_HANDLE_INVALID or CKR.CKR_SESSION_CLOSED
        or CKR.CKR_DEVICE_REMOVED or CKR.CKR_TOKEN_NOT_PRESENT or CKR.CKR_DEVICE_ERROR;

    private static void Close(ISession session)
    {
        try
        {
            session.Dispose();
        }
        catch (Pkcs11Exception)
        {
            // Already closed by the token (removed, finalized): nothing left to release.
        }
    }

    private ISession Rent()
    {
        if (_idle.TryTake(out var session))
        {
            Interlocked.Decrement(ref _idleCount);
            return session;
        }

        return _slot.OpenSession(SessionType.ReadWrite);
    }

    private void Return(ISession session, bool keep)
    {
        if (keep && !_disposed && Interlocked.Increment(ref _idleCount) <= MaxIdleSessions)
        {
            _idle.Add(session);
            if (_disposed && _idle.TryTake(out var late))
            {
                // Dispose ran while this session was being returned.
                Close(late);
            }

            return;
        }

        if (keep && !_disposed)
        {
            Interlocked.Decrement(ref _idleCount);
        }

        Close(session);
    }
}
