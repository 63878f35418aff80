"""Writers of avatars in LAM's own formats (the readers are ``avatarcheck.sources``).

``oac.write_oac``: LAM's OpenAvatarChat zip (or folder); ``lam_infer.write_lam_infer``: LAM's infer output.
"""
