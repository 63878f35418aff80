"""Writers of avatars in LAM's own formats (the readers are ``avatarcheck.sources``).

``oac.write_oac``: LAM's OpenAvatarChat zip (or folder); ``lam_infer.write_lam_infer``: LAM's infer output.
An edited avatar in either (``avatarcheck bake --format oac|lam``): ``edited_oac.write_edited_oac``,
``edited_lam.write_edited_lam``; ``proof.prove`` gates a written one against the avatar it was baked from.
"""
